cdef extern from "_simd.h" nogil:
    float mg_sum_f(const float *p, Py_ssize_t n)
    double mg_sum_d(const double *p, Py_ssize_t n)
    void mg_dev_sums_f(const float *p, Py_ssize_t n, float m, float *s1, float *s2)
    void mg_dev_sums_d(const double *p, Py_ssize_t n, double m, double *s1, double *s2)
    void mg_grad_sums_f(const float *g, const float *x, Py_ssize_t n, float c, float *s1, float *s2)
    void mg_grad_sums_d(const double *g, const double *x, Py_ssize_t n, double c, double *s1,
                        double *s2)
    void mg_relu_backward_f(const float *g, const float *y, float *dx, Py_ssize_t n)
    void mg_relu_backward_d(const double *g, const double *y, double *dx, Py_ssize_t n)
    void mg_max_pool_row_f(const float *plane, Py_ssize_t W, Py_ssize_t row0, int kh, int kw,
                           int sw, Py_ssize_t Wo, float *out, long long *index)
    void mg_max_pool_row_d(const double *plane, Py_ssize_t W, Py_ssize_t row0, int kh, int kw,
                           int sw, Py_ssize_t Wo, double *out, long long *index)
