/* A JSON batch read straight into Arrow buffers, for the one kind of schema the API reads.
 *
 * pyarrow's JSON reader took 58-66 % of the CPU of a 1,000-lead batch: it tokenises into an
 * intermediate form, then converts, column by column, for any schema. This reads the body once,
 * following the schema it is given (objects, lists, and leaves: int64, float64, bool, string),
 * and writes each column's buffers as it goes.
 *
 * The contract is one-sided: for any body it reads, the arrays are the ones pyarrow's reader
 * gives with the same explicit schema (unexpected fields an error). Anything it is not sure
 * about, it does not read, and pyarrow does: escapes and non-ASCII bytes in strings, numbers
 * that are not plain integers or decimals, NaN, a number too large, a null where an object or a
 * list belongs, an object without one of its lists, a key that is unknown or given twice, more
 * than one document. Then it returns where it stopped (the byte's offset, plus one).
 *
 * The schema comes as nodes in breadth-first order, so each node's children sit next to each
 * other; the document is node 0. For every node, a column: its rows, its nulls, and buffers as
 * Arrow lays them out (validity bits; values, or int32 offsets for strings and lists; the
 * strings' bytes), grown as needed and freed by release().
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The hash of this file, set by setup.py when it builds the library at install time, so the
   loader can tell a library built from another version of the source. */
#ifdef LEADSCORE_SOURCE_SHA256
const char leadscore_source_sha256[] = LEADSCORE_SOURCE_SHA256;
#endif

enum { STRUCT = 0, LIST = 1, INT64 = 2, FLOAT64 = 3, BOOL = 4, STRING = 5 };

typedef struct {
    int32_t kind;
    int32_t first_child, n_children; /* STRUCT: its fields; LIST: its one item */
    int32_t name_length;
    const char *name;
} Node;

typedef struct {
    char *data;
    int64_t length, capacity;
} Buffer;

typedef struct {
    int64_t rows, nulls;
    Buffer valid;  /* a bit per row, leaves only (nulls are taken only there), from the first
                      null on: none while all rows are valid */
    Buffer values; /* int64 or double per row; a bit per row for bool; int32 offsets (rows + 1)
                      for strings and lists */
    Buffer chars;  /* the strings' bytes */
} Column;

typedef struct {
    const char *at, *end;
    const Node *nodes;
    Column *columns;
} Reader;

#define FAIL (-1)
#define MAX_FIELDS 64

static int grow(Buffer *buffer, int64_t needed) {
    int64_t capacity = buffer->capacity ? buffer->capacity : 1024;
    while (capacity < needed) capacity *= 2;
    char *data = realloc(buffer->data, (size_t)capacity);
    if (data == NULL) return FAIL;
    buffer->data = data;
    buffer->capacity = capacity;
    return 0;
}

static inline int reserve(Buffer *buffer, int64_t more) {
    return buffer->length + more <= buffer->capacity ? 0 : grow(buffer, buffer->length + more);
}

static inline int append(Buffer *buffer, const void *bytes, int64_t n) {
    if (reserve(buffer, n)) return FAIL;
    memcpy(buffer->data + buffer->length, bytes, (size_t)n);
    buffer->length += n;
    return 0;
}

/* bit ``row`` of a bitmap, which grows a byte at a time */
static int set_bit(Buffer *bits, int64_t row, int on) {
    if (row % 8 == 0) {
        uint8_t zero = 0;
        if (append(bits, &zero, 1)) return FAIL;
    }
    if (on) bits->data[row / 8] |= (uint8_t)(1u << (row % 8));
    return 0;
}

static int append_offset(Buffer *offsets, int64_t offset) {
    if (offset > INT32_MAX) return FAIL;
    int32_t value = (int32_t)offset;
    return append(offsets, &value, 4);
}

static void skip_space(Reader *r) {
    while (r->at < r->end && (*r->at == ' ' || *r->at == '\n' || *r->at == '\r' || *r->at == '\t'))
        r->at++;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* the bytes a string may hold here: ASCII from the space on, but the quote (0x22) and the
 * backslash (0x5c); range designators: GCC and clang */
static const uint8_t PLAIN[256] = {[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7f] = 1};

/* a string's bytes, between its quotes: none escaped, none outside printable ASCII */
static int read_text(Reader *r, const char **text, int64_t *length) {
    if (r->at >= r->end || *r->at != '"') return FAIL;
    const char *start = ++r->at, *c = start;
    while (c < r->end && PLAIN[(uint8_t)*c]) c++;
    if (c >= r->end || *c != '"') return FAIL;
    *text = start;
    *length = c - start;
    r->at = c + 1;
    return 0;
}

/* the key of field ``node`` next in the body, as written there: the usual case, fields in the
 * schema's order */
static int key_is(const Reader *r, const Node *field) {
    int64_t length = field->name_length;
    return r->end - r->at > length + 1 && r->at[0] == '"' && r->at[length + 1] == '"' &&
           memcmp(r->at + 1, field->name, (size_t)length) == 0;
}

static int literal(Reader *r, const char *word, int64_t length) {
    if (r->end - r->at < length || memcmp(r->at, word, (size_t)length) != 0) return FAIL;
    r->at += length;
    return 0;
}

/* -?(0|[1-9][0-9]*): up to 18 digits, so no int64 overflows; a fraction or exponent after it
 * (pyarrow refuses those for int64) is left for the caller's next token check to fail on */
static int read_int64(Reader *r, int64_t *value) {
    const char *c = r->at;
    int negative = c < r->end && *c == '-';
    if (negative) c++;
    if (c >= r->end || !is_digit(*c)) return FAIL;
    int64_t number = 0;
    const char *digits = c;
    if (*c == '0') {
        c++;
    } else {
        while (c < r->end && is_digit(*c)) number = number * 10 + (*c++ - '0');
    }
    if (c - digits > 18) return FAIL;
    r->at = c;
    *value = negative ? -number : number;
    return 0;
}

static const double POWERS_OF_TEN[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* a JSON number, rounded correctly as pyarrow's reader rounds it: exactly by one product or
 * quotient when the digits and the power of ten are both exact doubles (Clinger's fast path),
 * else by strtod, which rounds correctly too; out of range: FAIL */
static int read_float64(Reader *r, double *value) {
    const char *start = r->at, *c = r->at;
    int negative = c < r->end && *c == '-';
    if (negative) c++;
    if (c >= r->end || !is_digit(*c)) return FAIL;
    uint64_t mantissa = 0;
    int digits = 0, exponent = 0;
    if (*c == '0') {
        c++;
    } else {
        for (; c < r->end && is_digit(*c); c++, digits++) mantissa = mantissa * 10 + (uint64_t)(*c - '0');
    }
    if (c < r->end && *c == '.') {
        c++;
        if (c >= r->end || !is_digit(*c)) return FAIL;
        for (; c < r->end && is_digit(*c); c++, exponent--) {
            if (mantissa == 0 && *c == '0') continue; /* leading zeros are no digits */
            mantissa = mantissa * 10 + (uint64_t)(*c - '0');
            digits++;
        }
    }
    int written_exponent = 0;
    if (c < r->end && (*c == 'e' || *c == 'E')) {
        c++;
        int exponent_negative = c < r->end && *c == '-';
        if (c < r->end && (*c == '-' || *c == '+')) c++;
        if (c >= r->end || !is_digit(*c)) return FAIL;
        for (; c < r->end && is_digit(*c); c++)
            if (written_exponent < 100000) written_exponent = written_exponent * 10 + (*c - '0');
        exponent += exponent_negative ? -written_exponent : written_exponent;
    }
    r->at = c;
    if (digits <= 15 && exponent >= -22 && exponent <= 22) { /* below 2^53, 10^|e| exact */
        double number = (double)mantissa;
        number = exponent < 0 ? number / POWERS_OF_TEN[-exponent] : number * POWERS_OF_TEN[exponent];
        *value = negative ? -number : number;
        return 0;
    }
    char copy[64];
    if (c - start >= (int64_t)sizeof copy) return FAIL;
    memcpy(copy, start, (size_t)(c - start));
    copy[c - start] = '\0';
    errno = 0;
    *value = strtod(copy, NULL);
    return errno == ERANGE ? FAIL : 0;
}

static int read_value(Reader *r, int32_t node);

static int append_null(Reader *r, int32_t node) {
    Column *column = &r->columns[node];
    switch (r->nodes[node].kind) {
    case INT64:
    case FLOAT64: {
        uint64_t zero = 0;
        if (append(&column->values, &zero, 8)) return FAIL;
        break;
    }
    case BOOL:
        if (set_bit(&column->values, column->rows, 0)) return FAIL;
        break;
    case STRING:
        if (append_offset(&column->values, column->chars.length)) return FAIL;
        break;
    default: /* a missing object or list: pyarrow's null, which this does not read */
        return FAIL;
    }
    if (column->nulls == 0) { /* the first null: the rows before it were all valid */
        int64_t full = column->rows / 8, bits = column->rows % 8;
        if (reserve(&column->valid, full + 1)) return FAIL;
        memset(column->valid.data, 0xff, (size_t)full);
        column->valid.length = full;
        if (bits) column->valid.data[column->valid.length++] = (char)((1u << bits) - 1);
    }
    if (set_bit(&column->valid, column->rows, 0)) return FAIL;
    column->nulls++;
    column->rows++;
    return 0;
}

static int read_leaf(Reader *r, int32_t node) {
    Column *column = &r->columns[node];
    switch (r->nodes[node].kind) {
    case INT64: {
        int64_t number;
        if (read_int64(r, &number) || append(&column->values, &number, 8)) return FAIL;
        break;
    }
    case FLOAT64: {
        double number;
        if (read_float64(r, &number) || append(&column->values, &number, 8)) return FAIL;
        break;
    }
    case BOOL: {
        int on = r->at < r->end && *r->at == 't';
        if (literal(r, on ? "true" : "false", on ? 4 : 5)) return FAIL;
        if (set_bit(&column->values, column->rows, on)) return FAIL;
        break;
    }
    case STRING: {
        const char *text;
        int64_t length;
        if (read_text(r, &text, &length) || append(&column->chars, text, length)) return FAIL;
        if (append_offset(&column->values, column->chars.length)) return FAIL;
        break;
    }
    default:
        return FAIL;
    }
    if (column->nulls && set_bit(&column->valid, column->rows, 1)) return FAIL;
    column->rows++;
    return 0;
}

/* the start of an object or a list: 1 when items follow, 0 when it closes at once */
static int opens(Reader *r, char open, char close) {
    if (r->at >= r->end || *r->at != open) return FAIL;
    r->at++;
    skip_space(r);
    if (r->at < r->end && *r->at == close) {
        r->at++;
        return 0;
    }
    return 1;
}

/* after an item: 1 at a comma (another item follows), 0 at the close */
static int another(Reader *r, char close) {
    skip_space(r);
    if (r->at < r->end && *r->at == ',') {
        r->at++;
        skip_space(r);
        return 1;
    }
    if (r->at < r->end && *r->at == close) {
        r->at++;
        return 0;
    }
    return FAIL;
}

static int read_object(Reader *r, int32_t node) {
    const Node *object = &r->nodes[node];
    uint64_t seen = 0;
    int more = opens(r, '{', '}');
    for (int32_t field = -1; more == 1; more = another(r, '}')) {
        int32_t guess = field + 1 < object->n_children ? field + 1 : 0;
        if (object->n_children > 0 && key_is(r, &r->nodes[object->first_child + guess])) {
            field = guess;
            r->at += r->nodes[object->first_child + guess].name_length + 2;
        } else {
            const char *key;
            int64_t length;
            if (read_text(r, &key, &length)) return FAIL;
            field = -1;
            for (int32_t i = 0; i < object->n_children; i++) {
                const Node *child = &r->nodes[object->first_child + i];
                if (child->name_length == length && memcmp(child->name, key, (size_t)length) == 0) {
                    field = i;
                    break;
                }
            }
        }
        if (field < 0 || (seen >> field) & 1u) return FAIL; /* unknown, or given twice */
        seen |= (uint64_t)1 << field;
        skip_space(r);
        if (r->at >= r->end || *r->at != ':') return FAIL;
        r->at++;
        skip_space(r);
        if (read_value(r, object->first_child + field)) return FAIL;
    }
    if (more == FAIL) return FAIL;
    for (int32_t i = 0; i < object->n_children; i++)
        if (!((seen >> i) & 1u) && append_null(r, object->first_child + i)) return FAIL;
    r->columns[node].rows++;
    return 0;
}

static int read_list(Reader *r, int32_t node) {
    int32_t item = r->nodes[node].first_child;
    int more = opens(r, '[', ']');
    for (; more == 1; more = another(r, ']'))
        if (read_value(r, item)) return FAIL;
    if (more == FAIL) return FAIL;
    Column *column = &r->columns[node];
    if (append_offset(&column->values, r->columns[item].rows)) return FAIL;
    column->rows++;
    return 0;
}

static int read_value(Reader *r, int32_t node) {
    if (r->at >= r->end) return FAIL;
    if (*r->at == 'n') return literal(r, "null", 4) ? FAIL : append_null(r, node);
    switch (r->nodes[node].kind) {
    case STRUCT:
        return read_object(r, node);
    case LIST:
        return read_list(r, node);
    default:
        return read_leaf(r, node);
    }
}

void release(Column *columns, int32_t n_nodes) {
    for (int32_t i = 0; i < n_nodes; i++) {
        free(columns[i].valid.data);
        free(columns[i].values.data);
        free(columns[i].chars.data);
        memset(&columns[i], 0, sizeof columns[i]);
    }
}

/* 0 when ``body`` is read whole into ``columns`` (zeroed by the caller, one per node);
 * else the offset plus one of the byte where reading stopped. Either way, release() frees. */
int64_t read_batch(const char *body, int64_t length, const Node *nodes, int32_t n_nodes,
                   Column *columns) {
    for (int32_t i = 0; i < n_nodes; i++) {
        if (nodes[i].kind == STRUCT && nodes[i].n_children > MAX_FIELDS) return 1;
        if ((nodes[i].kind == STRING || nodes[i].kind == LIST) && append_offset(&columns[i].values, 0))
            return 1;
    }
    Reader r = {body, body + length, nodes, columns};
    skip_space(&r);
    if (read_object(&r, 0)) return r.at - body + 1;
    skip_space(&r);
    return r.at == r.end ? 0 : r.at - body + 1;
}
