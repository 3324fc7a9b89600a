/* Path-dependent TreeSHAP of LightGBM trees in nodes x depth/2 time (serving/tree_shap.py).
 *
 * For a leaf l with value v and, for each feature j split on its path, z_j (the product of the
 * cover fractions of j's splits) and o_j (1 if the row takes all of j's splits the leaf's way),
 * the leaf adds to feature i's SHAP value
 *     v * (o_i - z_i) * integral over t in [0, 1] of  prod_{j != i} (z_j (1 - t) + o_j t)
 * (the Shapley weights are Beta integrals). The integrand is a polynomial of degree below the
 * tree's depth, so Gauss-Legendre quadrature with depth/2 + 1 points gives it exactly.
 *
 * One walk per tree carries prod_j (z_j (1 - t) + o_j t) down at each quadrature point and adds
 * the leaves' v * prod back up, so each split node adds its feature's share of all leaves below
 * it at once; leaves below a deeper split on the same feature are taken off there (acc[]),
 * since their z and o differ. Work per tree is nodes * points, against leaves * depth^2 for
 * LightGBM's TreeSHAP.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The hash of this file, set by setup.py when it builds the library at install time, so the
   loader can tell a library built from another version of the source. */
#ifdef LEADSCORE_SOURCE_SHA256
const char leadscore_source_sha256[] = LEADSCORE_SOURCE_SHA256;
#endif

#define MAX_POINTS 64
#define CATEGORICAL 1
#define DEFAULT_LEFT 2
#define MISSING_ZERO 4
#define MISSING_NAN 8

typedef struct {
    const int32_t *feature;   /* split feature; -1 for a leaf */
    const double *threshold;  /* numeric split: go left if value <= threshold */
    const int32_t *flags;     /* CATEGORICAL, DEFAULT_LEFT, MISSING_ZERO, MISSING_NAN */
    const int32_t *left, *right;
    const double *count;      /* training rows reaching the node (LightGBM's data count) */
    const double *value;      /* leaf value */
    const int32_t *cat_start, *cat_words; /* categorical split: its bitset in cat_bits */
    const uint32_t *cat_bits;
} Trees;

typedef struct {
    const Trees *trees;
    const double *x;  /* the row */
    double *phi;      /* its SHAP values, one per feature */
    double *z;        /* per feature: product of cover fractions on the path so far (1: none) */
    int8_t *o;        /* per feature: the row follows the path's splits on it (1: none) */
    int32_t *open;    /* per feature: splits on it among the nodes above */
    double *acc;      /* per feature and point: leaves below a deeper split on it */
    int points;
    const double *t, *w;
} Walk;

/* LightGBM's kZeroThreshold (1e-35f): its rows read any value this close to 0 as 0 */
static const double ZERO = 1e-35f;

static int goes_left(const Trees *m, int node, double v) {
    int flags = m->flags[node];
    if (fabs(v) <= ZERO) v = 0.0;
    if (flags & CATEGORICAL) {
        /* as LightGBM: the category is the value cut toward zero (-0.5 is category 0) */
        if (isnan(v) || v >= 2147483648.0 || v <= -2147483649.0) return 0;
        int code = (int)v;
        if (code < 0) return 0;
        int word = code / 32;
        if (word >= m->cat_words[node]) return 0;
        return (m->cat_bits[m->cat_start[node] + word] >> (code % 32)) & 1;
    }
    if (isnan(v) && !(flags & MISSING_NAN)) v = 0.0;
    if (((flags & MISSING_ZERO) && v == 0.0) || ((flags & MISSING_NAN) && isnan(v)))
        return (flags & DEFAULT_LEFT) != 0;
    return v <= m->threshold[node];
}

/* h[k]: sum over the leaves below node of value * product at point k */
static void visit(Walk *walk, int node, const double *product, double *h) {
    const Trees *m = walk->trees;
    int points = walk->points;
    int f = m->feature[node];
    if (f < 0) {
        for (int k = 0; k < points; k++) h[k] = m->value[node] * product[k];
        return;
    }
    double z_above = walk->z[f];
    int8_t o_above = walk->o[f];
    int left = goes_left(m, node, walk->x[f]);
    double *acc = walk->acc + (size_t)f * MAX_POINTS;
    double saved[MAX_POINTS], below[MAX_POINTS], child_h[MAX_POINTS];
    memcpy(saved, acc, sizeof(double) * points);
    walk->open[f]++;
    for (int k = 0; k < points; k++) h[k] = 0.0;
    for (int side = 0; side < 2; side++) {
        int child = side == 0 ? m->left[node] : m->right[node];
        double z = z_above * (m->count[child] / m->count[node]);
        int8_t o = o_above && (left == (side == 0));
        if (walk->open[f] == 1) { /* the path's first split on f: its factor above is 1 */
            for (int k = 0; k < points; k++) {
                double t = walk->t[k];
                below[k] = product[k] * (z * (1 - t) + o * t);
                acc[k] = 0.0;
            }
        } else {
            for (int k = 0; k < points; k++) {
                double t = walk->t[k];
                double above = z_above * (1 - t) + o_above * t; /* 0 only where product is 0 */
                below[k] = above > 0 ? product[k] / above * (z * (1 - t) + o * t) : 0.0;
                acc[k] = 0.0;
            }
        }
        walk->z[f] = z;
        walk->o[f] = o;
        visit(walk, child, below, child_h);
        double share = 0.0;
        for (int k = 0; k < points; k++) {
            double t = walk->t[k];
            double factor = z * (1 - t) + o * t; /* 0: an empty child, whose leaves add 0 */
            if (factor > 0) share += walk->w[k] * (child_h[k] - acc[k]) / factor;
            h[k] += child_h[k];
        }
        walk->phi[f] += (o - z) * share;
    }
    walk->z[f] = z_above;
    walk->o[f] = o_above;
    walk->open[f]--;
    /* a split on f above takes this whole subtree off its own share */
    for (int k = 0; k < points; k++) acc[k] = walk->open[f] ? saved[k] + h[k] : 0.0;
}

/* out: rows x features (added to); per tree its root, points and their offset in t and w.
 * Returns 0, or -1 if memory ran out or a tree asks for too many points. */
int tree_shap(int rows, int features, const double *x, int n_trees, const int32_t *roots,
              const int32_t *tree_points, const int32_t *point_at, const double *t,
              const double *w, const int32_t *feature, const double *threshold,
              const int32_t *flags, const int32_t *left, const int32_t *right,
              const double *count, const double *value, const int32_t *cat_start,
              const int32_t *cat_words, const uint32_t *cat_bits, double *out) {
    Trees m = {feature, threshold, flags, left, right, count, value, cat_start, cat_words,
               cat_bits};
    double *z = malloc(sizeof(double) * features);
    int8_t *o = malloc(features);
    int32_t *open = calloc(features, sizeof(int32_t));
    double *acc = calloc((size_t)features * MAX_POINTS, sizeof(double));
    int status = (z && o && open && acc) ? 0 : -1;
    for (int i = 0; i < n_trees && status == 0; i++)
        if (tree_points[i] < 1 || tree_points[i] > MAX_POINTS) status = -1;
    for (int f = 0; f < features && status == 0; f++) {
        z[f] = 1.0;
        o[f] = 1;
    }
    double product[MAX_POINTS], h[MAX_POINTS];
    for (int r = 0; r < rows && status == 0; r++) {
        Walk walk = {&m, x + (size_t)r * features, out + (size_t)r * features, z, o, open, acc,
                     0, NULL, NULL};
        for (int i = 0; i < n_trees; i++) {
            walk.points = tree_points[i];
            walk.t = t + point_at[i];
            walk.w = w + point_at[i];
            for (int k = 0; k < walk.points; k++) product[k] = 1.0;
            visit(&walk, roots[i], product, h);
        }
    }
    free(z);
    free(o);
    free(open);
    free(acc);
    return status;
}
