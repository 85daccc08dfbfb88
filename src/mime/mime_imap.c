/* mime_imap: IMAP BODY / BODYSTRUCTURE and ENVELOPE (RFC 3501 7.4.2,
 * RFC 9051 7.5.2) from a parsed message, in the form Dovecot produces:
 * a text part without a charset parameter is given ("charset" "us-ascii"), a
 * multipart without parts gets one empty text/plain part, sizes count
 * bare LFs as CRLF. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "mime_private.h"

#define EMPTY_BODY \
	"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
#define EMPTY_ENVELOPE "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"

/* RFC 3501 9: quoted = DQUOTE *QUOTED-CHAR DQUOTE; QUOTED-CHAR is 7-bit
 * TEXT-CHAR (no CR, LF) with '"' and '\' escaped. Anything else is sent
 * as a literal; NUL cannot be sent at all and is dropped. */
int
mime_imap_nstring(const char *s, size_t len, struct buf *out)
{
	size_t i, n = 0, st;
	bool literal = false;

	if (s == NULL)
		return buf_append(out, "NIL", 3);
	for (i = 0; i < len; i++) {
		uint8_t c = (uint8_t)s[i];

		if (c == '\r' || c == '\n' || c >= 0x80)
			literal = true;
		if (c != '\0')
			n++;
	}
	if (literal) {
		if (buf_printf(out, "{%zu}\r\n", n) < 0)
			return -1;
	} else if (buf_append(out, "\"", 1) < 0)
		return -1;
	for (st = i = 0; i < len; i++) {
		if (s[i] != '\0' &&
		    (literal || (s[i] != '"' && s[i] != '\\')))
			continue;
		if (buf_append(out, s + st, i - st) < 0)
			return -1;
		if (s[i] != '\0' && buf_append(out, "\\", 1) < 0)
			return -1;
		st = s[i] == '\0' ? i + 1 : i;
	}
	if (buf_append(out, s + st, len - st) < 0)
		return -1;
	return literal ? 0 : buf_append(out, "\"", 1);
}

static int
nstr(const char *s, struct buf *out)
{
	return mime_imap_nstring(s, s == NULL ? 0 : strlen(s), out);
}

static int
sp(struct buf *out)
{
	return buf_append(out, " ", 1);
}

/* body-fld-param: "(" string SP string *(SP string SP string) ")" / nil */
static int
params(const struct mime_param *pp, size_t n, bool text, struct buf *out)
{
	size_t i;

	if (n == 0 && !text)
		return buf_append(out, "NIL", 3);
	if (buf_append(out, "(", 1) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (i > 0 && sp(out) < 0)
			return -1;
		if (nstr(pp[i].wire_name, out) < 0 || sp(out) < 0 ||
		    nstr(pp[i].wire_value, out) < 0)
			return -1;
	}
	if (text && mime_param_find(pp, n, "charset") == NULL &&
	    buf_append_str(out, n > 0 ? " \"charset\" \"us-ascii\"" :
	    "\"charset\" \"us-ascii\"") < 0)
		return -1;
	return buf_append(out, ")", 1);
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static int
ext_tail(const struct mime_part *part, struct buf *out)
{
	size_t i;

	if (sp(out) < 0)
		return -1;
	if (part->disposition == NULL) {
		if (buf_append(out, "NIL", 3) < 0)
			return -1;
	} else if (buf_append(out, "(", 1) < 0 ||
	    nstr(part->disposition, out) < 0 || sp(out) < 0 ||
	    params(part->disp_params, part->ndisp_params, false, out) < 0 ||
	    buf_append(out, ")", 1) < 0)
		return -1;
	if (sp(out) < 0)
		return -1;
	if (part->nlanguages == 0) {
		if (buf_append(out, "NIL", 3) < 0)
			return -1;
	} else {
		if (buf_append(out, "(", 1) < 0)
			return -1;
		for (i = 0; i < part->nlanguages; i++)
			if ((i > 0 && sp(out) < 0) ||
			    nstr(part->languages[i], out) < 0)
				return -1;
		if (buf_append(out, ")", 1) < 0)
			return -1;
	}
	if (sp(out) < 0 || nstr(part->location, out) < 0)
		return -1;
	return 0;
}

static int write_body(const struct mime_message *, const struct mime_part *,
    bool, struct buf *);

static int
write_multipart(const struct mime_message *m, const struct mime_part *part,
    bool ext, struct buf *out)
{
	const struct mime_part *c;

	if ((part->flags & MIME_PART_MULTIPART) == 0 || part->children == NULL) {
		if (buf_append_str(out, EMPTY_BODY) < 0)
			return -1;
	}
	if ((part->flags & MIME_PART_MULTIPART) != 0)
		for (c = part->children; c != NULL; c = c->next)
			if (write_body(m, c, ext, out) < 0)
				return -1;
	if (sp(out) < 0 || nstr(part->subtype, out) < 0)
		return -1;
	if (!ext)
		return 0;
	if (sp(out) < 0 || params(part->params, part->nparams, false, out) < 0)
		return -1;
	return ext_tail(part, out);
}

static int
write_single(const struct mime_message *m, const struct mime_part *part,
    bool ext, struct buf *out)
{
	bool text = strcmp(part->type, "text") == 0;
	bool msg = (part->flags & MIME_PART_MESSAGE) != 0;

	if (nstr(part->type, out) < 0 || sp(out) < 0 ||
	    nstr(part->subtype, out) < 0 || sp(out) < 0 ||
	    params(part->params, part->nparams, text, out) < 0 ||
	    sp(out) < 0 || nstr(part->id, out) < 0 || sp(out) < 0 ||
	    nstr(part->description, out) < 0 || sp(out) < 0 ||
	    nstr(part->cte_raw != NULL ? part->cte_raw : "7bit", out) < 0 ||
	    buf_printf(out, " %zu", part->body_vsize) < 0)
		return -1;
	if (msg) {
		if (sp(out) < 0)
			return -1;
		if (part->children != NULL) {
			if (mime_envelope(m, part->children, out) < 0 ||
			    sp(out) < 0 ||
			    write_body(m, part->children, ext, out) < 0)
				return -1;
		} else if (buf_append_str(out, EMPTY_ENVELOPE " " EMPTY_BODY) < 0)
			return -1;
	}
	if ((text || msg) && buf_printf(out, " %zu", part->body_lines) < 0)
		return -1;
	if (!ext)
		return 0;
	if (sp(out) < 0 || nstr(part->md5, out) < 0)
		return -1;
	return ext_tail(part, out);
}

static int
write_body(const struct mime_message *m, const struct mime_part *part,
    bool ext, struct buf *out)
{
	int r;

	if (buf_append(out, "(", 1) < 0)
		return -1;
	if (strcmp(part->type, "multipart") == 0)
		r = write_multipart(m, part, ext, out);
	else
		r = write_single(m, part, ext, out);
	if (r < 0)
		return -1;
	return buf_append(out, ")", 1);
}

int
mime_bodystructure(const struct mime_message *m, const struct mime_part *part,
    bool extensible, struct buf *out)
{
	/* the message/rfc822 child stands for the part's body */
	return write_body(m, part, extensible, out);
}

static int
env_string(const struct mime_part *msg, const char *name, struct buf *out)
{
	const struct mime_header *h = mime_header_find(msg, name);
	char *s;
	int r;

	if (h == NULL)
		return buf_append(out, "NIL", 3);
	s = mime_unfold_dup(h->value, h->value_len);
	r = nstr(s, out);
	free(s);
	return r;
}

/* address-list or NIL; *empty_r tells whether it was NIL */
static int
env_addrs(const struct mime_part *msg, const char *name, struct buf *out,
    bool *empty_r)
{
	const struct mime_header *h = mime_header_find(msg, name);
	struct mime_addr *list = NULL, *a;
	int r = 0;

	if (h != NULL)
		list = mime_addr_parse(h->value, h->value_len);
	if (empty_r != NULL)
		*empty_r = list == NULL;
	if (list == NULL)
		return empty_r != NULL ? 0 : buf_append(out, "NIL", 3);
	r = buf_append(out, "(", 1);
	for (a = list; a != NULL && r == 0; a = a->next) {
		if (buf_append(out, "(", 1) < 0 || nstr(a->name, out) < 0 ||
		    sp(out) < 0 || nstr(a->route, out) < 0 || sp(out) < 0 ||
		    nstr(a->mailbox, out) < 0 || sp(out) < 0 ||
		    nstr(a->host, out) < 0 || buf_append(out, ")", 1) < 0)
			r = -1;
	}
	if (r == 0)
		r = buf_append(out, ")", 1);
	mime_addr_free(&list);
	return r;
}

int
mime_envelope(const struct mime_message *m, const struct mime_part *msg,
    struct buf *out)
{
	struct buf from;
	bool empty;
	int r = -1;

	(void)m;
	buf_init(&from, out->max);
	if (env_addrs(msg, "from", &from, &empty) < 0)
		goto out;
	if (empty && buf_append(&from, "NIL", 3) < 0)
		goto out;
	if (buf_append(out, "(", 1) < 0 || env_string(msg, "date", out) < 0 ||
	    sp(out) < 0 || env_string(msg, "subject", out) < 0 ||
	    sp(out) < 0 || buf_append(out, from.data, from.len) < 0 ||
	    sp(out) < 0)
		goto out;
	/* RFC 3501: an absent or empty Sender or Reply-To is From */
	if (env_addrs(msg, "sender", out, &empty) < 0 ||
	    (empty && buf_append(out, from.data, from.len) < 0) ||
	    sp(out) < 0 || env_addrs(msg, "reply-to", out, &empty) < 0 ||
	    (empty && buf_append(out, from.data, from.len) < 0) ||
	    sp(out) < 0 || env_addrs(msg, "to", out, NULL) < 0 ||
	    sp(out) < 0 || env_addrs(msg, "cc", out, NULL) < 0 ||
	    sp(out) < 0 || env_addrs(msg, "bcc", out, NULL) < 0 ||
	    sp(out) < 0 || env_string(msg, "in-reply-to", out) < 0 ||
	    sp(out) < 0 || env_string(msg, "message-id", out) < 0 ||
	    buf_append(out, ")", 1) < 0)
		goto out;
	r = 0;
out:
	buf_deinit(&from);
	return r;
}
