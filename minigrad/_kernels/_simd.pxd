cdef extern from "_simd.h" nogil:
    float mg_sum_f(const float *p, Py_ssize_t n)
    double mg_sum_d(const double *p, Py_ssize_t n)
    void mg_dev_sums_f(const float *p, Py_ssize_t n, float m, float *s1, float *s2)
    void mg_dev_sums_d(const double *p, Py_ssize_t n, double m, double *s1, double *s2)
    void mg_grad_sums_f(const float *g, const float *x, Py_ssize_t n, float c, float *s1, float *s2)
    void mg_grad_sums_d(const double *g, const double *x, Py_ssize_t n, double c, double *s1,
                        double *s2)
