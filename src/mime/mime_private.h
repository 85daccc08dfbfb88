/* mime_private: helpers shared by the files of the mime module. */
#ifndef MOAT_MIME_PRIVATE_H
#define MOAT_MIME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "mime.h"

static inline bool
mime_is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static inline bool
mime_is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline uint8_t
mime_lc(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

static inline int
mime_hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A NUL-terminated copy of a field value: line breaks removed, NULs
 * dropped, leading and trailing blanks trimmed. */
char *mime_unfold_dup(const uint8_t *p, size_t len);
/* A NUL-terminated lower-cased copy of p[0..len). */
char *mime_lower_dup(const uint8_t *p, size_t len);

/* Parse the content header fields of part (Content-Type etc.);
 * digest_child selects the multipart/digest default type. */
void mime_content_parse(const struct mime_message *m, struct mime_part *part,
    bool digest_child);
void mime_params_free(struct mime_param *params, size_t n);
void mime_content_free(struct mime_part *part);

/* Append a UTF-8 encoding of code point cp. */
int mime_utf8_put(struct buf *out, uint32_t cp);

#endif
