/* A JSON answer's rows, spliced from the items of JSON arrays into a row template.
 *
 * Building one dict per lead and serialising it took a sixth of a JSON batch's CPU. orjson
 * writes each column of a batch's answer (lead ids, probabilities, points, ...) as one JSON
 * array in well under a millisecond; what remains is putting the items side by side, which is
 * copying bytes. A row is fragment 0, an item of the stream of slot 0, fragment 1, ... and the
 * last fragment; rows are separated by commas. Each slot takes the next item of its stream,
 * so a stream read by several slots of a row (a lead's points per rule) is read row by row.
 *
 * Streams are orjson's arrays: items are numbers, true, false, null or strings (whose quotes
 * may be escaped), separated by commas, no spaces, no nested arrays. A stream with too few
 * items or one left over is an error (-1): the caller writes the answer another way.
 */
#include <stdint.h>
#include <string.h>

/* The end of the array item starting at p (where its ',' or ']' is), or NULL if none ends so
 * before `end`. */
static const char *item_end(const char *p, const char *end) {
    const char *start = p;
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"'; p++) {
            if (*p == '\\')
                p++;
        }
        p++; /* past the closing quote */
    } else {
        while (p < end && *p != ',' && *p != ']')
            p++;
    }
    return p < end && p > start && (*p == ',' || *p == ']') ? p : NULL;
}

/* Writes `rows` rows into `out` (at most `capacity` bytes) and returns the bytes written, or -1
 * if a stream does not hold one item per row and slot reading it, or `out` is too small. */
int64_t splice_rows(int64_t rows, int32_t slots, const char *const *fragments,
                    const int64_t *fragment_lengths, const int32_t *stream_of_slot,
                    int32_t streams, const char **cursors, const int64_t *stream_lengths,
                    char *out, int64_t capacity) {
    const char *ends[streams > 0 ? streams : 1];
    for (int32_t s = 0; s < streams; s++) {
        if (stream_lengths[s] < 2 || cursors[s][0] != '[')
            return -1;
        ends[s] = cursors[s] + stream_lengths[s];
        cursors[s]++; /* past '[' */
    }
    char *w = out, *limit = out + capacity;
    for (int64_t row = 0; row < rows; row++) {
        if (row) {
            if (w >= limit)
                return -1;
            *w++ = ',';
        }
        for (int32_t slot = 0; slot <= slots; slot++) {
            int64_t n = fragment_lengths[slot];
            if (n > limit - w)
                return -1;
            memcpy(w, fragments[slot], n);
            w += n;
            if (slot == slots)
                break;
            int32_t s = stream_of_slot[slot];
            const char *start = cursors[s], *end = item_end(start, ends[s]);
            if (end == NULL || end - start > limit - w)
                return -1;
            memcpy(w, start, end - start);
            w += end - start;
            cursors[s] = end + 1; /* past ',' or ']' */
        }
    }
    for (int32_t s = 0; s < streams; s++) { /* each stream read to its closing bracket */
        if (cursors[s] != ends[s] || ends[s][-1] != ']')
            return -1;
    }
    return w - out;
}
