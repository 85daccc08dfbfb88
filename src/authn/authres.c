/* authres: building our Authentication-Results value and finding the
 * incoming fields that claim our authserv-id (RFC 8601 2.2, 5). */
#include "authres.h"

#include <string.h>

#include "buf.h"
#include "util.h"

#define AR_NAME		"Authentication-Results"
#define AR_SEP		";\r\n\t"

/* Characters a MAIL FROM address may keep in smtp.mailfrom= (atext,
 * '.', '@': no quoting needed, no field syntax). */
static bool
safe_addr(const char *s)
{
	const char *special = "!#$%&'*+-/=?^_`{|}~.@";

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr(special, c) != NULL))
			return false;
	}
	return true;
}

static bool
safe_domain(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' ||
		    *s == '_'))
			return false;
	return true;
}

int
authres_value(const struct authres_input *in, struct buf *out)
{
	size_t i, start = out->len;
	int r = 0;

	if (in->authserv_id == NULL || !safe_domain(in->authserv_id) ||
	    strlen(in->authserv_id) > AUTHRES_ID_MAX)
		return -1;
	r |= buf_append_str(out, in->authserv_id);
	if (in->spf_checked) {
		const char *mf = in->mail_from != NULL ? in->mail_from : "";
		const char *at = strrchr(mf, '@');

		r |= buf_printf(out, AR_SEP "spf=%s", spf_result_name(in->spf));
		if (mf[0] != '\0' && safe_addr(mf))
			r |= buf_printf(out, " smtp.mailfrom=%s", mf);
		else if (at != NULL && safe_domain(at + 1))
			r |= buf_printf(out, " smtp.mailfrom=%s", at + 1);
		else if (mf[0] == '\0' && in->helo != NULL &&
		    safe_domain(in->helo))
			r |= buf_printf(out, " smtp.helo=%s", in->helo);
	}
	if (in->dkim_checked && in->ndkim == 0)
		r |= buf_append_str(out, AR_SEP "dkim=none");
	for (i = 0; in->dkim_checked && i < in->ndkim; i++) {
		char ar[DKIM_AR_MAX];

		if (dkim_ar_format(&in->dkim[i], ar, sizeof(ar)) == 0)
			r |= buf_printf(out, AR_SEP "%s", ar);
	}
	if (in->dmarc != NULL) {
		char ar[DMARC_AR_MAX];

		if (dmarc_ar_format(in->dmarc, ar, sizeof(ar)) == 0)
			r |= buf_printf(out, AR_SEP "%s", ar);
	}
	if (in->arc != NULL) {
		char ar[ARC_AR_MAX];

		if (arc_ar_format(in->arc, ar, sizeof(ar)) == 0)
			r |= buf_printf(out, AR_SEP "%s", ar);
	}
	if (in->sender_id_checked) {
		/* RFC 8601 2.7.3 / the IANA method "sender-id", ptype
		 * header: the PRA. */
		r |= buf_printf(out, AR_SEP "sender-id=%s",
		    spf_result_name(in->sender_id));
		if (in->pra != NULL && in->pra[0] != '\0' && safe_addr(in->pra))
			r |= buf_printf(out, " header.from=%s", in->pra);
	}
	if (out->len == start + strlen(in->authserv_id))
		r |= buf_append_str(out, "; none");
	return r != 0 ? -1 : 0;
}

int
authres_field(const struct authres_input *in, struct buf *out)
{
	struct buf v;
	int r;

	buf_init(&v, AUTHRES_FIELD_MAX);
	r = authres_value(in, &v);
	if (r == 0)
		r = buf_printf(out, AR_NAME ": %.*s\r\n", (int)v.len,
		    (const char *)v.data);
	buf_deinit(&v);
	return r < 0 ? -1 : 0;
}

/* Skip CFWS (RFC 5322 3.2.2: comments nest) from i; returns the new
 * position. */
static size_t
skip_cfws(const char *p, size_t end, size_t i)
{
	unsigned depth = 0;

	while (i < end) {
		char c = p[i];

		if (depth > 0) {
			if (c == '\\' && i + 1 < end)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
		} else if (c == '(')
			depth++;
		else if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			break;
		i++;
	}
	return i;
}

/* Does the value p[i..end) start with authserv-id id (a token or a
 * quoted-string, RFC 8601 2.2), followed by CFWS, ';' or the end? */
static bool
claims(const char *p, size_t end, size_t i, const char *id)
{
	size_t idlen = strlen(id), s;

	i = skip_cfws(p, end, i);
	if (i < end && p[i] == '"') {
		s = ++i;
		while (i < end && p[i] != '"' && p[i] != '\\')
			i++;
		if (i >= end || p[i] != '"')
			return false;	/* escapes: not our plain name */
		return i - s == idlen && ascii_nieq(p + s, id, idlen);
	}
	if (end - i < idlen || !ascii_nieq(p + i, id, idlen))
		return false;
	i += idlen;
	return i == end || p[i] == ';' || p[i] == ' ' || p[i] == '\t' ||
	    p[i] == '\r' || p[i] == '\n' || p[i] == '(';
}

size_t
authres_forged(const void *msg, size_t len, const char *authserv_id,
    struct authres_range *ranges, size_t max)
{
	const char *m = msg;
	size_t pos = 0, n = 0, nfields = 0, namelen = strlen(AR_NAME);

	while (pos < len && m[pos] != '\r' && m[pos] != '\n' &&
	    nfields++ < AUTHRES_FIELDS_MAX) {
		size_t start = pos, i, colon;

		/* The field runs to the line end not followed by WSP. */
		for (;;) {
			const char *nl = memchr(m + pos, '\n', len - pos);

			pos = nl != NULL ? (size_t)(nl - m) + 1 : len;
			if (pos >= len || (m[pos] != ' ' && m[pos] != '\t'))
				break;
		}
		for (i = start; i < pos && m[i] != ':'; i++)
			;
		if (i == pos)
			continue;
		colon = i;
		while (i > start && (m[i - 1] == ' ' || m[i - 1] == '\t'))
			i--;
		if (i - start != namelen || !ascii_nieq(m + start, AR_NAME,
		    namelen) || !claims(m, pos, colon + 1, authserv_id))
			continue;
		if (n < max) {
			ranges[n].off = start;
			ranges[n].len = pos - start;
		}
		n++;
	}
	return n;
}
