cdef extern from "_omp.h" nogil:
    int MG_OPENMP
    int omp_get_max_threads()
    void omp_set_num_threads(int n)
