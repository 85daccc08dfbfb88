/* smtp_addr: the RFC 5321 section 4.1.2 path grammar: reverse-path,
 * forward-path, Mailbox, Local-part (Dot-string / Quoted-string), Domain,
 * address literals (IPv4, IPv6, General-address-literal), source routes
 * (A-d-l, accepted and ignored, 3.6.1), with RFC 6531 UTF-8 when the
 * client asked for SMTPUTF8. Pure: no I/O, no allocation. */
#ifndef MOAT_SMTP_ADDR_H
#define MOAT_SMTP_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_LOCAL_MAX 64	/* RFC 5321 4.5.3.1.1 */
#define SMTP_DOMAIN_MAX 255	/* RFC 5321 4.5.3.1.2 */
#define SMTP_PATH_MAX 256	/* RFC 5321 4.5.3.1.3, incl. < > */

/* flags for smtp_addr_parse_path() */
#define SMTP_ADDR_ALLOW_EMPTY	0x01	/* "<>" allowed (reverse-path) */
#define SMTP_ADDR_UTF8		0x02	/* RFC 6531 UTF-8 allowed */
#define SMTP_ADDR_POSTMASTER	0x04	/* "<Postmaster>" allowed (RCPT) */

struct smtp_addr {
	/* Local part in its canonical form: a Quoted-string whose content is
	 * a valid Dot-string is unquoted; otherwise the quotes are kept and
	 * quoted-pairs are left as received. Case is preserved. */
	char	local[SMTP_LOCAL_MAX + 3];
	/* Domain in lower case (ASCII letters only are folded); an address
	 * literal keeps its brackets: "[192.0.2.1]", "[ipv6:2001:db8::1]". */
	char	domain[SMTP_DOMAIN_MAX + 1];
	bool	null;		/* "<>" */
	bool	quoted;		/* local part is still a quoted string */
	bool	literal;	/* domain is an address literal */
	bool	utf8;		/* contains non-ASCII octets */
};

/* Parse a Path at s (which must start with '<'; no leading space). On
 * success returns 0, fills *a and sets *consumed_r to the number of bytes
 * up to and including '>'. On failure returns -1 with *error_r a short
 * reply text such as "Bad address syntax" or "Local part too long". */
int smtp_addr_parse_path(const char *s, size_t len, unsigned flags,
    struct smtp_addr *a, size_t *consumed_r, const char **error_r);

/* Format as local@domain (no brackets around the whole) into dst. Returns
 * 0, or -1 if it does not fit. A null path formats as "". */
int smtp_addr_format(const struct smtp_addr *a, char *dst, size_t dstlen);

/* True if s is a syntactically valid Domain (RFC 5321 4.1.2, with UTF-8
 * U-labels when utf8) or address literal. Used for HELO/EHLO checks. */
bool smtp_addr_valid_domain(const char *s, size_t len, bool utf8);

#endif
