/* spf_pra: the Purported Responsible Address of a message (RFC 4407 2),
 * the identity Sender ID (RFC 4406) checks: one mailbox taken from
 * Resent-Sender, Resent-From, Sender or From. Pure: no I/O. */
#include "spf.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "xalloc.h"

#define PRA_VALUE_MAX 2048		/* unfolded header value we parse */
#define PRA_COMMENT_DEPTH_MAX 16

struct field {
	const char	*name;
	size_t		 nlen;
	const char	*value;		/* raw, folded */
	size_t		 vlen;
};

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
field_is(const struct field *f, const char *name)
{
	return f->nlen == strlen(name) && ascii_nieq(f->name, name, f->nlen);
}

static bool
field_nonempty(const struct field *f)
{
	size_t i;

	for (i = 0; i < f->vlen; i++)
		if (!is_wsp(f->value[i]) && f->value[i] != '\r' &&
		    f->value[i] != '\n')
			return true;
	return false;
}

/* Split the header section into fields (RFC 5322 2.2, 2.2.3). */
static size_t
fields_split(const char *msg, size_t len, struct field *fs, size_t max)
{
	size_t i = 0, n = 0, eol, colon;

	while (i < len && n < max) {
		if (msg[i] == '\r' || msg[i] == '\n')
			break;		/* the empty line: end of header */
		colon = i;
		while (colon < len && msg[colon] != ':' &&
		    msg[colon] != '\n')
			colon++;
		/* to the end of the field, continuation lines included */
		eol = colon;
		for (;;) {
			while (eol < len && msg[eol] != '\n')
				eol++;
			if (eol + 1 < len && is_wsp(msg[eol + 1])) {
				eol++;
				continue;
			}
			break;
		}
		if (colon < len && msg[colon] == ':') {
			fs[n].name = msg + i;
			fs[n].nlen = colon - i;
			while (fs[n].nlen > 0 && is_wsp(msg[i + fs[n].nlen - 1]))
				fs[n].nlen--;
			fs[n].value = msg + colon + 1;
			fs[n].vlen = eol - colon - 1;
			n++;
		}
		i = eol < len ? eol + 1 : len;
	}
	return n;
}

/* Extract the single mailbox of a From/Sender-like value: drop comments,
 * refuse lists and groups, take <addr-spec> or the bare addr-spec. */
static int
mailbox(const char *v, size_t vlen, char *out, size_t outlen)
{
	char buf[PRA_VALUE_MAX];
	size_t i, n = 0, start, end;
	int depth = 0;
	bool quoted = false;
	const char *lt, *gt, *at, *spec;

	for (i = 0; i < vlen; i++) {
		char ch = v[i];

		if (ch == '\r' || ch == '\n')
			continue;	/* unfold */
		if (ch == '\\' && i + 1 < vlen && (quoted || depth > 0)) {
			if (depth == 0 && n + 2 < sizeof(buf)) {
				buf[n++] = ch;
				buf[n++] = v[i + 1];
			}
			i++;
			continue;
		}
		if (depth > 0) {
			if (ch == '(' && ++depth > PRA_COMMENT_DEPTH_MAX)
				return -1;
			if (ch == ')')
				depth--;
			continue;
		}
		if (!quoted && ch == '(') {
			depth = 1;
			buf[n < sizeof(buf) - 1 ? n++ : n] = ' ';
			continue;
		}
		if (ch == '"')
			quoted = !quoted;
		else if (!quoted && (ch == ',' || ch == ';'))
			return -1;	/* several mailboxes, or a group */
		if ((unsigned char)ch < 0x20 && ch != '\t')
			return -1;
		if (n + 1 >= sizeof(buf))
			return -1;
		buf[n++] = ch;
	}
	if (depth != 0 || quoted)
		return -1;
	buf[n] = '\0';
	lt = strchr(buf, '<');
	if (lt != NULL) {
		gt = strchr(lt, '>');
		if (gt == NULL || strchr(gt + 1, '<') != NULL)
			return -1;
		for (i = (size_t)(gt - buf) + 1; i < n; i++)
			if (!is_wsp(buf[i]))
				return -1;
		spec = lt + 1;
		end = (size_t)(gt - buf);
		/* obs-route: "<@a,@b:local@domain>" */
		if (*spec == '@') {
			const char *colon = memchr(spec, ':',
			    (size_t)(gt - spec));

			if (colon == NULL)
				return -1;
			spec = colon + 1;
		}
		start = (size_t)(spec - buf);
	} else {
		start = 0;
		end = n;
	}
	while (start < end && is_wsp(buf[start]))
		start++;
	while (end > start && is_wsp(buf[end - 1]))
		end--;
	at = NULL;
	for (i = start, quoted = false; i < end; i++) {
		if (buf[i] == '"')
			quoted = !quoted;
		else if (buf[i] == '\\' && quoted)
			i++;
		else if (buf[i] == '@' && !quoted)
			at = buf + i;
		else if (!quoted && is_wsp(buf[i]) && lt == NULL)
			return -1;	/* "a b@c" without brackets */
	}
	if (at == NULL || at == buf + start || at + 1 >= buf + end)
		return -1;	/* no domain (RFC 4407 step 5) */
	for (i = (size_t)(at - buf) + 1; i < end; i++)
		if (is_wsp(buf[i]) || buf[i] == '@' || buf[i] == '<')
			return -1;
	if (end - start + 1 > outlen)
		return -1;
	memcpy(out, buf + start, end - start);
	out[end - start] = '\0';
	return 0;
}

int
spf_pra_extract(const char *msg, size_t len, char *out, size_t outlen,
    const char **error_r)
{
	struct field *fs;
	const struct field *sel = NULL;
	size_t n, i, rs = 0, rf = 0, k;
	bool have_rs = false, have_rf = false;
	unsigned senders = 0, froms = 0;
	const struct field *sender = NULL, *from = NULL;

	fs = xcalloc(SPF_PRA_HEADERS_MAX, sizeof(*fs));
	n = fields_split(msg, len, fs, SPF_PRA_HEADERS_MAX);
	for (i = 0; i < n; i++) {
		if (!field_nonempty(&fs[i]))
			continue;
		if (!have_rs && field_is(&fs[i], "Resent-Sender")) {
			have_rs = true;
			rs = i;
		} else if (!have_rf && field_is(&fs[i], "Resent-From")) {
			have_rf = true;
			rf = i;
		} else if (field_is(&fs[i], "Sender")) {
			senders++;
			sender = &fs[i];
		} else if (field_is(&fs[i], "From")) {
			froms++;
			from = &fs[i];
		}
	}
	/* step 1 */
	if (have_rs) {
		sel = &fs[rs];
		if (have_rf && rf < rs) {
			for (k = rf + 1; k < rs; k++)
				if (field_is(&fs[k], "Received") ||
				    field_is(&fs[k], "Return-Path"))
					sel = NULL;
		}
	}
	/* step 2 */
	if (sel == NULL && have_rf)
		sel = &fs[rf];
	/* step 3 */
	if (sel == NULL && senders > 1) {
		*error_r = "more than one Sender header";
		goto fail;
	}
	if (sel == NULL && senders == 1)
		sel = sender;
	/* step 4 */
	if (sel == NULL) {
		if (froms != 1) {
			*error_r = froms == 0 ? "no From header" :
			    "more than one From header";
			goto fail;
		}
		sel = from;
	}
	/* step 5 */
	if (mailbox(sel->value, sel->vlen, out, outlen) < 0) {
		*error_r = "the selected header is not a single mailbox";
		goto fail;
	}
	free(fs);
	return 0;
fail:
	free(fs);
	return -1;
}
