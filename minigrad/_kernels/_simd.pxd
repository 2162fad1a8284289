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
    Py_ssize_t mg_max_pool_row_2x2_f(const float *plane, Py_ssize_t W, Py_ssize_t row0,
                                     Py_ssize_t Wo, float *out, long long *index)
    void mg_rows_moments_f(const float *x, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t C,
                           double *pm, double *pq)
    void mg_rows_moments_d(const double *x, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t C,
                           double *pm, double *pq)
    void mg_rows_grad_f(const float *g, const float *x, const float *scale, const float *center,
                        float *dx, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t C, double *p1,
                        double *p2)
    void mg_rows_grad_d(const double *g, const double *x, const double *scale,
                        const double *center, double *dx, Py_ssize_t r0, Py_ssize_t r1,
                        Py_ssize_t C, double *p1, double *p2)
    void mg_rows_affine_f(const float *x, const float *scale, const float *shift,
                          const float *center, float *y, Py_ssize_t r0, Py_ssize_t r1,
                          Py_ssize_t C, int accumulate)
    void mg_rows_affine_d(const double *x, const double *scale, const double *shift,
                          const double *center, double *y, Py_ssize_t r0, Py_ssize_t r1,
                          Py_ssize_t C, int accumulate)
