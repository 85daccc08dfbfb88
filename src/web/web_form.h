/* web_form: the request pieces the unsubscribe page reads: a field of a
 * query string or application/x-www-form-urlencoded body (percent
 * decoding, '+' as space), and the RFC 8058 one-click body
 * "List-Unsubscribe=One-Click" in either encoding a POST may use
 * (urlencoded or multipart/form-data, RFC 7578). Pure, bounded. */
#ifndef MOAT_WEB_FORM_H
#define MOAT_WEB_FORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEB_BOUNDARY_MAX	70	/* RFC 2046 5.1.1 */

/* The value of the first key=value pair named key in s (len octets,
 * pairs separated by '&'), decoded into out (NUL-ended). Returns 1
 * found, 0 absent, -1 when the value is malformed (bad %XX, a decoded
 * control character) or does not fit outlen. */
int web_form_get(const char *s, size_t len, const char *key, char *out,
    size_t outlen);

/* Does a POST body of content type ctype ("" none: taken as urlencoded)
 * carry List-Unsubscribe=One-Click? */
bool web_form_is_one_click(const char *ctype, const uint8_t *body,
    size_t len);

#endif
