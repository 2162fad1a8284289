/* MG_CLONES: compile a loop for AVX-512, AVX2+FMA and baseline x86-64 and pick one at load
   time (GCC's target_clones), since the build has no -march. Only GCC on x86-64 Linux has
   the load-time dispatch; elsewhere the loops are compiled once, for the baseline. */
#ifndef MINIGRAD_CLONES_H
#define MINIGRAD_CLONES_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MG_CLONES
#endif

#endif
