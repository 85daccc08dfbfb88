/* mime: a pure (no I/O) MIME parser. A message held in memory is parsed
 * into a tree of parts whose header and body are byte ranges of the input,
 * so IMAP BODY[section] is served as slices; content headers are parsed
 * (RFC 2045/2046/2183/2231), header values decoded (RFC 2047) and address
 * lists parsed for ENVELOPE. Output helpers write IMAP BODYSTRUCTURE and
 * ENVELOPE (RFC 3501 7.4.2); content helpers decode base64/QP and extract
 * UTF-8 text for SEARCH and the spam filter.
 *
 * Malformed input never fails the parse: the tree is best effort, nesting
 * deeper than MIME_DEPTH_MAX is opaque, parts past MIME_PARTS_MAX are not
 * split out, and every scan is linear in the input. The input must outlive
 * the tree (parts and headers point into it). */
#ifndef MOAT_MIME_H
#define MOAT_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MIME_DEPTH_MAX		32	/* nesting; deeper parts are opaque */
#define MIME_PARTS_MAX		10000	/* parts per message */
#define MIME_HEADERS_MAX	1000	/* indexed header fields per part */
#define MIME_HEADER_MAX		65536	/* octets of one (folded) field */
#define MIME_PARAMS_MAX		64	/* parameters per Content-* field */
#define MIME_SECTIONS_MAX	64	/* RFC 2231 continuations per param */
#define MIME_BOUNDARY_MAX	200	/* RFC 2046 says 70; be lenient */
#define MIME_ADDRS_MAX		10000	/* addresses per address list */

/* One header field: slices into the message. name is without the colon
 * (trailing blanks dropped); value starts after the colon and leading
 * blanks, keeps its folding line breaks and excludes the final one. */
struct mime_header {
	const uint8_t	*name;
	size_t		 name_len;
	const uint8_t	*value;
	size_t		 value_len;
	size_t		 off;		/* of the field in the message */
	size_t		 len;		/* whole field incl. its line break */
};

/* A Content-Type / Content-Disposition parameter. RFC 2231 sections are
 * joined. name is lower-cased without any '*'; value is decoded to UTF-8
 * (charset from RFC 2231, or RFC 2047 words in a quoted value; unknown
 * charsets leave the octets as they are). wire_name/wire_value are what
 * BODYSTRUCTURE shows (Dovecot style): sections joined, an extended value
 * stays %-encoded with its charset'language' prefix and wire_name ends in
 * '*'. All strings are NUL-terminated; value_len counts value's octets
 * (a decoded value may contain NUL). */
struct mime_param {
	char	*name;
	char	*value;
	size_t	 value_len;
	char	*wire_name;
	char	*wire_value;
	char	*charset;	/* RFC 2231 charset or NULL */
	char	*language;	/* RFC 2231 language or NULL */
};

enum mime_cte {
	MIME_CTE_7BIT = 0,
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_QP,
	MIME_CTE_BASE64,
	MIME_CTE_UNKNOWN,	/* anything else: content served raw */
};

#define MIME_PART_MULTIPART	0x01	/* multipart/ with children */
#define MIME_PART_MESSAGE	0x02	/* message/rfc822 */
#define MIME_PART_OPAQUE	0x04	/* not descended: depth/part limit */
#define MIME_PART_NO_SEPARATOR	0x08	/* header not ended by a blank line */
#define MIME_PART_NO_END	0x10	/* multipart without close delimiter */
#define MIME_PART_NO_BOUNDARY	0x20	/* multipart without usable boundary */
#define MIME_PART_HAS_NUL	0x40	/* NUL octets in the part */
#define MIME_PART_8BIT		0x80	/* octets >= 0x80 in the body */

/* A part. For a multipart, children are its body parts. For message/rfc822
 * the single child is the encapsulated message (its header is the message
 * header, its body the message body): IMAP "2.HEADER" is child's header,
 * "2.TEXT" child's body, and "2.1" the child itself when it is not a
 * multipart (see mime_part_by_section). The root is the message itself.
 *
 * hdr_off/hdr_len cover the header incl. the blank separator line (IMAP
 * HEADER / MIME); body_off/body_len the body (IMAP TEXT / the part). The
 * CRLF before a boundary belongs to the boundary (RFC 2046 5.1.1). The
 * *_vsize fields count octets as if every bare LF were CRLF (what IMAP
 * shows for an LF-only message); body_lines counts LFs. */
struct mime_part {
	struct mime_part	*parent;
	struct mime_part	*children;	/* first child */
	struct mime_part	*next;		/* next sibling */
	size_t			 nchildren;
	unsigned		 depth;		/* root: 0 */
	unsigned		 flags;		/* MIME_PART_* */

	size_t			 hdr_off, hdr_len, hdr_vsize;
	size_t			 body_off, body_len, body_vsize;
	size_t			 body_lines;

	struct mime_header	*headers;
	size_t			 nheaders;

	char			*type;		/* lower-case, "text" */
	char			*subtype;	/* lower-case, "plain" */
	struct mime_param	*params;	/* Content-Type parameters */
	size_t			 nparams;
	enum mime_cte		 cte;
	char			*cte_raw;	/* as given, or NULL */
	char			*boundary;	/* multipart only, or NULL */
	char			*disposition;	/* lower-case, or NULL */
	struct mime_param	*disp_params;
	size_t			 ndisp_params;
	/* Unfolded raw values (NUL-terminated), NULL when absent. */
	char			*id;		/* Content-ID */
	char			*description;	/* Content-Description */
	char			*md5;		/* Content-MD5 */
	char			*location;	/* Content-Location */
	char			**languages;	/* Content-Language tags */
	size_t			 nlanguages;
};

#define MIME_MSG_TRUNCATED	0x01	/* MIME_PARTS_MAX reached */
#define MIME_MSG_DEEP		0x02	/* MIME_DEPTH_MAX reached */

struct mime_message {
	const uint8_t		*data;
	size_t			 len;
	struct mime_part	*root;
	size_t			 nparts;
	unsigned		 flags;		/* MIME_MSG_* */
};

/* Parse len octets at data (CRLF or bare LF line ends). Never fails on
 * input; the result is freed with mime_message_free(). */
struct mime_message *mime_parse(const uint8_t *data, size_t len);
void mime_message_free(struct mime_message **msg);

/* The part named by an IMAP section number list "1.2.3" (len octets, no
 * trailing ".HEADER" etc.); "" is the root. NULL if there is none. */
const struct mime_part *mime_part_by_section(const struct mime_message *msg,
    const char *section, size_t len);

/* The first (nth from 0) header field with this name, case-insensitive. */
const struct mime_header *mime_header_find(const struct mime_part *part,
    const char *name);
const struct mime_header *mime_header_find_nth(const struct mime_part *part,
    const char *name, size_t nth);
/* Append a field value with folding line breaks removed. -1 past max. */
int mime_header_unfold(const uint8_t *value, size_t len, struct buf *out);
/* The part after p in a depth-first walk of the tree (children first,
 * then the next sibling, else an ancestor's), or NULL at the end. */
const struct mime_part *mime_part_next(const struct mime_part *p);
/* The file name parameter of a part: Content-Disposition filename=,
 * else Content-Type name= (older mailers); NULL when it has neither. */
const struct mime_param *mime_part_filename(const struct mime_part *p);
/* Octets of the header block of msg including the blank line that ends
 * it (CRLF or LF line ends); len when there is no blank line. */
size_t mime_header_end(const uint8_t *msg, size_t len);
/* Append a field value unfolded with RFC 2047 encoded words decoded to
 * UTF-8 (whitespace between adjacent encoded words dropped, RFC 2047 6.2;
 * unknown charsets and broken words are kept as written). -1 past max. */
int mime_header_decode(const uint8_t *value, size_t len, struct buf *out);
/* A content parameter by (lower-case) name, or NULL. */
const struct mime_param *mime_param_find(const struct mime_param *params,
    size_t n, const char *name);

/* An address list entry in RFC 3501 ENVELOPE terms. A group is a start
 * entry (mailbox = group name, host NULL) then its members then an end
 * entry (all NULL). name is the display name unquoted but with encoded
 * words kept (decode with mime_header_decode); a missing local part or
 * domain is "MISSING_MAILBOX" / "MISSING_DOMAIN" (as Dovecot shows it). */
struct mime_addr {
	char			*name;
	char			*route;		/* obs-route "@a,@b", or NULL */
	char			*mailbox;
	char			*host;
	struct mime_addr	*next;
};

/* Parse an address-list field value; NULL when it holds no address. */
struct mime_addr *mime_addr_parse(const uint8_t *value, size_t len);
void mime_addr_free(struct mime_addr **list);

/* IMAP output (RFC 3501 7.4.2). part is any part; extensible selects
 * BODYSTRUCTURE (true) or BODY (false). msg is a part holding a message
 * header: the root or the child of a message/rfc822 part. Strings are
 * quoted, or literals when they hold CR, LF or 8-bit octets. Return 0 or
 * -1 when out reaches its maximum. */
int mime_bodystructure(const struct mime_message *m,
    const struct mime_part *part, bool extensible, struct buf *out);
int mime_envelope(const struct mime_message *m, const struct mime_part *msg,
    struct buf *out);
/* Append s as an IMAP string (quoted or literal) or NIL when s is NULL. */
int mime_imap_nstring(const char *s, size_t len, struct buf *out);

/* Content decoding. The decoders are lenient: invalid input is skipped
 * and *bad_r (when not NULL) set to true. Return 0, or -1 past max. */
int mime_base64_decode(const uint8_t *p, size_t len, struct buf *out,
    bool *bad_r);
int mime_qp_decode(const uint8_t *p, size_t len, bool header_q,
    struct buf *out, bool *bad_r);
/* Undo the part's Content-Transfer-Encoding (IMAP BINARY). */
int mime_part_decode(const struct mime_message *m,
    const struct mime_part *part, struct buf *out, bool *bad_r);
/* Convert octets in charset to UTF-8. Known charsets: utf-8, us-ascii,
 * iso-8859-*, windows-125x, koi8-r/u (aliases included); other charsets
 * are refused (return 1, octets appended unchanged) because exotic iconv
 * converters have had memory bugs (CVE-2024-2961). Invalid sequences
 * become U+FFFD. Returns 0, 1 or -1 past max. */
int mime_charset_to_utf8(const char *charset, const uint8_t *p, size_t len,
    struct buf *out);
bool mime_charset_known(const char *charset);
/* Text of a "text" part as UTF-8: transfer decoding, charset conversion
 * and, for text/html, mime_html_to_text(). Returns 0, 1 when the part is
 * not text (nothing appended), -1 past max. */
int mime_part_text(const struct mime_message *m,
    const struct mime_part *part, struct buf *out);
/* Crude HTML to text: tags dropped (block tags become line breaks),
 * script/style/comments skipped, common entities decoded. */
int mime_html_to_text(const uint8_t *p, size_t len, struct buf *out);

#endif
