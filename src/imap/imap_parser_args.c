/* imap_parser_args: grammars of the simpler commands on top of the
 * argument tree: sequence sets, mailbox names (and modified UTF-7), flags,
 * dates, LOGIN, AUTHENTICATE, ENABLE, ID, CREATE, RENAME, SELECT/EXAMINE,
 * STATUS, APPEND, LIST/LSUB, COPY/MOVE, UID EXPUNGE and QUOTA. */
#include <string.h>

#include "imap_parser.h"
#include "imap_parser_private.h"

static int
bad(struct imap_parse_error *err, const struct imap_command *cmd,
    const char *reason)
{
	return imap_fail(err, cmd, IMAP_PERR_SYNTAX, reason);
}

/* ---- sequence sets ---- */

/* seq-number = nz-number / "*"
 * nz-number = digit-nz *DIGIT ; (0 < n < 4,294,967,296) */
static int
seq_number(const uint8_t *s, size_t len, uint64_t *v_r)
{
	struct imap_slice sl = { s, len };

	if (len == 1 && s[0] == '*') {
		*v_r = IMAP_SEQ_STAR;
		return 0;
	}
	if (len == 0 || s[0] == '0')
		return -1;
	return imap_slice_number(sl, 1, UINT32_MAX, v_r);
}

/* sequence-set = (seq-number / seq-range) ["," sequence-set]
 * seq-range = seq-number ":" seq-number
 * sequence-set =/ seq-last-command ; RFC 5182
 * seq-last-command = "$" */
int
imap_parse_seqset(struct imap_parser *p, const struct imap_arg *a,
    bool allow_saved, struct imap_seqset *out, struct imap_parse_error *err)
{
	struct imap_seq_range *r;
	struct imap_slice s;
	size_t i, n = 1, k = 0, start;

	memset(out, 0, sizeof(*out));
	if (!imap_arg_atom_text(a, &s) || a->type == IMAP_ARG_NIL)
		return bad(err, NULL, "invalid sequence set");
	if (s.len == 1 && s.p[0] == '$') {
		if (!allow_saved)
			return bad(err, NULL, "'$' not allowed here");
		out->saved = true;
		return 0;
	}
	for (i = 0; i < s.len; i++)
		if (s.p[i] == ',')
			n++;
	if (n > p->limits.max_ranges)
		return imap_fail(err, NULL, IMAP_PERR_TOO_MANY_RANGES,
		    "too many ranges in sequence set");
	r = imap_alloc(p, n, sizeof(*r));
	start = 0;
	for (i = 0; i <= s.len; i++) {
		const uint8_t *colon;
		uint64_t lo, hi;

		if (i < s.len && s.p[i] != ',')
			continue;
		colon = memchr(s.p + start, ':', i - start);
		if (colon == NULL) {
			if (seq_number(s.p + start, i - start, &lo) < 0)
				return bad(err, NULL, "invalid sequence set");
			hi = lo;
		} else {
			size_t c = (size_t)(colon - s.p);

			if (seq_number(s.p + start, c - start, &lo) < 0 ||
			    seq_number(s.p + c + 1, i - c - 1, &hi) < 0)
				return bad(err, NULL, "invalid sequence set");
			if (lo > hi) {
				uint64_t t = lo;

				lo = hi;
				hi = t;
			}
		}
		r[k].lo = lo;
		r[k].hi = hi;
		k++;
		start = i + 1;
	}
	out->ranges = r;
	out->count = k;
	return 0;
}

/* ---- mailbox names ---- */

/* mailbox = "INBOX" / astring
 * INBOX is case-insensitive; all case variants of INBOX are INBOX */
int
imap_parse_mailbox(const struct imap_arg *a, struct imap_mailbox *out,
    struct imap_parse_error *err)
{
	static const uint8_t inbox[] = "INBOX";

	memset(out, 0, sizeof(*out));
	if (!imap_arg_is_astring(a))
		return bad(err, NULL, "invalid mailbox name");
	if (!imap_utf8_valid(a->str.p, a->str.len))
		return bad(err, NULL, "mailbox name is not UTF-8");
	if (imap_slice_ieq(a->str, "INBOX")) {
		out->name.p = inbox;
		out->name.len = 5;
		out->inbox = true;
	} else {
		out->name = a->str;
	}
	return 0;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64_value(uint8_t c)
{
	const char *q;

	if (c == '\0')
		return -1;
	q = strchr(b64, c);
	return q == NULL ? -1 : (int)(q - b64);
}

static int
put_utf8(struct buf *out, uint32_t cp)
{
	uint8_t u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | (cp >> 6));
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | (cp >> 12));
		u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | (cp >> 18));
		u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, u, n);
}

/* RFC 3501 5.1.3: printable US-ASCII except "&" stands for itself; "&-"
 * is "&"; "&" modified-BASE64 "-" is UTF-16BE in base64 with "," for
 * "/" and no padding. */
int
imap_mutf7_to_utf8(const uint8_t *s, size_t len, struct buf *out,
    const char **error_r)
{
	size_t i = 0;
	bool after_run = false;

	while (i < len) {
		uint32_t bits = 0, high = 0;
		unsigned nbits = 0;
		size_t units = 0;
		uint8_t c = s[i];

		if (c < 0x20 || c > 0x7e) {
			*error_r = "non-printable octet in modified UTF-7";
			return -1;
		}
		if (c != '&') {
			if (buf_append(out, &c, 1) < 0)
				goto full;
			i++;
			after_run = false;
			continue;
		}
		i++;
		if (i < len && s[i] == '-') {
			if (buf_append(out, "&", 1) < 0)
				goto full;
			i++;
			after_run = false;
			continue;
		}
		if (after_run) {
			*error_r = "adjacent base64 runs in modified UTF-7";
			return -1;
		}
		for (; i < len && s[i] != '-'; i++) {
			int v = b64_value(s[i]);
			uint32_t u;

			if (v < 0) {
				*error_r = "bad base64 in modified UTF-7";
				return -1;
			}
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			u = (bits >> nbits) & 0xffff;
			bits &= (1u << nbits) - 1;
			units++;
			if (high != 0) {
				if (u < 0xdc00 || u > 0xdfff) {
					*error_r = "broken surrogate pair";
					return -1;
				}
				u = 0x10000 + ((high - 0xd800) << 10) +
				    (u - 0xdc00);
				high = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
				continue;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				*error_r = "broken surrogate pair";
				return -1;
			} else if (u >= 0x20 && u <= 0x7e) {
				*error_r = "needlessly encoded ASCII in "
				    "modified UTF-7";
				return -1;
			}
			if (put_utf8(out, u) < 0)
				goto full;
		}
		if (i == len) {
			*error_r = "unterminated base64 in modified UTF-7";
			return -1;
		}
		if (units == 0 || high != 0 || nbits >= 6 || bits != 0) {
			*error_r = "bad base64 run in modified UTF-7";
			return -1;
		}
		i++;
		after_run = true;
	}
	return 0;
full:
	*error_r = "mailbox name too long";
	return -1;
}

static int
flush_b64(struct buf *out, uint32_t *bits, unsigned *nbits)
{
	while (*nbits >= 6) {
		*nbits -= 6;
		if (buf_append(out, &b64[(*bits >> *nbits) & 0x3f], 1) < 0)
			return -1;
	}
	*bits &= (1u << *nbits) - 1;
	return 0;
}

int
imap_utf8_to_mutf7(const uint8_t *s, size_t len, struct buf *out,
    const char **error_r)
{
	uint32_t bits = 0;
	unsigned nbits = 0;
	bool in_run = false;
	size_t i = 0;

	if (!imap_utf8_valid(s, len) ||
	    (len > 0 && memchr(s, '\0', len) != NULL)) {
		*error_r = "mailbox name is not UTF-8";
		return -1;
	}
	while (i < len) {
		uint32_t cp = s[i];
		size_t n = 1;

		if (cp >= 0xf0) {
			cp &= 0x07;
			n = 4;
		} else if (cp >= 0xe0) {
			cp &= 0x0f;
			n = 3;
		} else if (cp >= 0xc0) {
			cp &= 0x1f;
			n = 2;
		}
		/* UNSAFE: imap_utf8_valid() vouched for n octets */
		for (size_t k = 1; k < n; k++)
			cp = (cp << 6) | (s[i + k] & 0x3f);
		i += n;
		if (cp >= 0x20 && cp <= 0x7e) {
			if (in_run) {
				if (nbits > 0) {
					bits <<= 6 - nbits;
					nbits = 6;
				}
				if (flush_b64(out, &bits, &nbits) < 0 ||
				    buf_append(out, "-", 1) < 0)
					goto full;
				in_run = false;
			}
			if (buf_append(out, cp == '&' ? "&-" : (const char *)
			    &s[i - 1], cp == '&' ? 2 : 1) < 0)
				goto full;
			continue;
		}
		if (!in_run) {
			if (buf_append(out, "&", 1) < 0)
				goto full;
			in_run = true;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			bits = (bits << 16) | (0xd800 + (cp >> 10));
			nbits += 16;
			if (flush_b64(out, &bits, &nbits) < 0)
				goto full;
			cp = 0xdc00 + (cp & 0x3ff);
		}
		bits = (bits << 16) | cp;
		nbits += 16;
		if (flush_b64(out, &bits, &nbits) < 0)
			goto full;
	}
	if (in_run) {
		if (nbits > 0) {
			bits <<= 6 - nbits;
			nbits = 6;
		}
		if (flush_b64(out, &bits, &nbits) < 0 ||
		    buf_append(out, "-", 1) < 0)
			goto full;
	}
	return 0;
full:
	*error_r = "mailbox name too long";
	return -1;
}

/* ---- flags ---- */

/* flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
 *        flag-keyword / flag-extension
 * flag-keyword = "$MDNSent" / "$Forwarded" / ... / atom
 * flag-extension = "\" atom */
bool
imap_valid_flag(struct imap_slice s)
{
	size_t i = 0;

	if (s.len > 0 && s.p[0] == '\\')
		i = 1;
	if (i == s.len)
		return false;
	for (; i < s.len; i++)
		if (!imap_is_atom_char(s.p[i]))
			return false;
	return true;
}

/* flag-list = "(" [flag *(SP flag)] ")" */
int
imap_parse_flag_list(struct imap_parser *p, const struct imap_arg *a,
    struct imap_flags *out, struct imap_parse_error *err)
{
	struct imap_slice *f;
	const struct imap_arg *c;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (a == NULL || a->type != IMAP_ARG_LIST)
		return bad(err, NULL, "expected a flag list");
	f = imap_alloc(p, a->count, sizeof(*f));
	for (c = a->list; c != NULL; c = c->next) {
		if (!imap_arg_atom_text(c, &f[n]) || !imap_valid_flag(f[n]))
			return bad(err, NULL, "invalid flag");
		n++;
	}
	out->flags = f;
	out->count = n;
	return 0;
}

/* ---- dates ---- */

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
	"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static int
digits(const uint8_t *s, size_t n, int *v_r)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!imap_is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*v_r = v;
	return 0;
}

static int
month(const uint8_t *s, int *m_r)
{
	struct imap_slice sl = { s, 3 };
	int i;

	for (i = 0; i < 12; i++)
		if (imap_slice_ieq(sl, months[i])) {
			*m_r = i + 1;
			return 0;
		}
	return -1;
}

/* date-text = date-day "-" date-month "-" date-year
 * date-day = 1*2DIGIT ; date-year = 4DIGIT
 * date = date-text / DQUOTE date-text DQUOTE */
int
imap_parse_date(const struct imap_arg *a, struct imap_datetime *out)
{
	struct imap_slice s;
	size_t dl;

	memset(out, 0, sizeof(*out));
	if (a == NULL || (a->type != IMAP_ARG_ATOM &&
	    a->type != IMAP_ARG_QUOTED) || a->section != NULL)
		return -1;
	s = a->str;
	dl = s.len > 1 && s.p[1] == '-' ? 1 : 2;
	if (s.len != dl + 9 || s.p[dl] != '-' || s.p[dl + 4] != '-' ||
	    digits(s.p, dl, &out->day) < 0 ||
	    month(s.p + dl + 1, &out->month) < 0 ||
	    digits(s.p + dl + 5, 4, &out->year) < 0)
		return -1;
	if (out->day < 1 || out->day > 31)
		return -1;
	return 0;
}

/* date-time = DQUOTE date-day-fixed "-" date-month "-" date-year
 *             SP time SP zone DQUOTE
 * date-day-fixed = (SP DIGIT) / 2DIGIT
 * time = 2DIGIT ":" 2DIGIT ":" 2DIGIT
 * zone = ("+" / "-") 4DIGIT */
int
imap_parse_datetime(const struct imap_arg *a, struct imap_datetime *out)
{
	const uint8_t *s;
	int zh, zm;

	memset(out, 0, sizeof(*out));
	if (a == NULL || a->type != IMAP_ARG_QUOTED || a->str.len != 26)
		return -1;
	s = a->str.p;
	if (s[0] == ' ') {
		if (digits(s + 1, 1, &out->day) < 0)
			return -1;
	} else if (digits(s, 2, &out->day) < 0) {
		return -1;
	}
	if (s[2] != '-' || month(s + 3, &out->month) < 0 || s[6] != '-' ||
	    digits(s + 7, 4, &out->year) < 0 || s[11] != ' ' ||
	    digits(s + 12, 2, &out->hour) < 0 || s[14] != ':' ||
	    digits(s + 15, 2, &out->min) < 0 || s[17] != ':' ||
	    digits(s + 18, 2, &out->sec) < 0 || s[20] != ' ' ||
	    (s[21] != '+' && s[21] != '-') || digits(s + 22, 2, &zh) < 0 ||
	    digits(s + 24, 2, &zm) < 0)
		return -1;
	if (out->day < 1 || out->day > 31 || out->hour > 23 ||
	    out->min > 59 || out->sec > 60 || zm > 59)
		return -1;
	out->zone = (zh * 60 + zm) * (s[21] == '-' ? -1 : 1);
	return 0;
}

/* ---- commands ---- */

int
imap_parse_no_args(const struct imap_command *cmd,
    struct imap_parse_error *err)
{
	if (cmd->argc != 0)
		return bad(err, cmd, "unexpected arguments");
	return 0;
}

/* login = "LOGIN" SP userid SP password
 * userid = astring ; password = astring */
int
imap_parse_login(const struct imap_command *cmd, struct imap_login *out,
    struct imap_parse_error *err)
{
	const struct imap_arg *u = imap_cmd_arg(cmd, 0);
	const struct imap_arg *pw = imap_cmd_arg(cmd, 1);

	memset(out, 0, sizeof(*out));
	if (cmd->argc != 2 || !imap_arg_is_astring(u) ||
	    !imap_arg_is_astring(pw))
		return bad(err, cmd, "expected LOGIN user password");
	out->user = u->str;
	out->password = pw->str;
	return 0;
}

/* base64 = *(4base64-char) [base64-terminal]
 * base64-char = ALPHA / DIGIT / "+" / "/"
 * base64-terminal = (2base64-char "==") / (3base64-char "=") */
static bool
valid_base64(struct imap_slice s)
{
	size_t i, pad = 0;

	if (s.len % 4 != 0)
		return false;
	for (i = 0; i < s.len; i++) {
		uint8_t c = s.p[i];

		if (c == '=') {
			if (i + 2 < s.len || (i + 2 == s.len &&
			    s.p[i + 1] != '='))
				return false;
			pad++;
			continue;
		}
		if (pad > 0 || !((c >= 'A' && c <= 'Z') ||
		    (c >= 'a' && c <= 'z') || imap_is_digit(c) || c == '+' ||
		    c == '/'))
			return false;
	}
	return true;
}

/* authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp]
 * auth-type = atom
 * initial-resp = (base64 / "=") ; RFC 4959 SASL-IR */
int
imap_parse_authenticate(const struct imap_command *cmd,
    struct imap_authenticate *out, struct imap_parse_error *err)
{
	const struct imap_arg *m = imap_cmd_arg(cmd, 0);
	const struct imap_arg *ir = imap_cmd_arg(cmd, 1);
	struct imap_slice s;

	memset(out, 0, sizeof(*out));
	if (cmd->argc < 1 || cmd->argc > 2 || !imap_arg_atom_text(m, &s) ||
	    !imap_valid_flag(s) || s.p[0] == '\\')
		return bad(err, cmd, "expected AUTHENTICATE mechanism");
	out->mech = s;
	if (ir == NULL)
		return 0;
	if (!imap_arg_atom_text(ir, &s) || ir->type == IMAP_ARG_NIL)
		return bad(err, cmd, "invalid initial response");
	out->has_ir = true;
	if (s.len == 1 && s.p[0] == '=') {
		out->ir.p = s.p;
		out->ir.len = 0;
		return 0;
	}
	if (s.len == 0 || !valid_base64(s))
		return bad(err, cmd, "initial response is not base64");
	out->ir = s;
	return 0;
}

/* enable = "ENABLE" 1*(SP capability)
 * capability = ("AUTH=" auth-type) / atom */
int
imap_parse_enable(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_enable *out, struct imap_parse_error *err)
{
	const struct imap_arg *a;
	struct imap_slice *caps;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (cmd->argc == 0)
		return bad(err, cmd, "ENABLE needs a capability");
	caps = imap_alloc(p, cmd->argc, sizeof(*caps));
	for (a = cmd->args; a != NULL; a = a->next) {
		if (!imap_arg_atom_text(a, &caps[n]) ||
		    !imap_valid_flag(caps[n]) || caps[n].p[0] == '\\')
			return bad(err, cmd, "invalid capability");
		n++;
	}
	out->caps = caps;
	out->count = n;
	return 0;
}

/* id = "ID" SP id-params-list
 * id-params-list = "(" *(string SP nstring) ")" / nil   ; RFC 2971
 * at most 30 pairs, fields of 30 octets, values of 1024 (3.3) */
int
imap_parse_id(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_id *out, struct imap_parse_error *err)
{
	const struct imap_arg *a = cmd->args, *f;
	struct imap_id_pair *pairs;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (cmd->argc != 1)
		return bad(err, cmd, "expected ID parameter list");
	if (a->type == IMAP_ARG_NIL)
		return 0;
	if (a->type != IMAP_ARG_LIST || a->count % 2 != 0)
		return bad(err, cmd, "invalid ID parameter list");
	if (a->count / 2 > IMAP_ID_PAIRS_MAX)
		return imap_fail(err, cmd, IMAP_PERR_TOO_MANY_ARGS,
		    "too many ID parameters");
	pairs = imap_alloc(p, a->count / 2 + 1, sizeof(*pairs));
	for (f = a->list; f != NULL; f = f->next->next) {
		const struct imap_arg *v = f->next;

		if ((f->type != IMAP_ARG_QUOTED &&
		    f->type != IMAP_ARG_LITERAL) || f->literal8 ||
		    (v->type != IMAP_ARG_QUOTED &&
		    v->type != IMAP_ARG_LITERAL && v->type != IMAP_ARG_NIL) ||
		    v->literal8)
			return bad(err, cmd, "invalid ID parameter");
		if (f->str.len > IMAP_ID_FIELD_MAX ||
		    v->str.len > IMAP_ID_VALUE_MAX)
			return imap_fail(err, cmd, IMAP_PERR_TOO_MANY_ARGS,
			    "ID parameter too long");
		pairs[n].field = f->str;
		pairs[n].nil = v->type == IMAP_ARG_NIL;
		if (!pairs[n].nil)
			pairs[n].value = v->str;
		n++;
	}
	out->pairs = pairs;
	out->count = n;
	return 0;
}

/* delete, subscribe, unsubscribe, getquotaroot: "NAME" SP mailbox */
int
imap_parse_mailbox_cmd(const struct imap_command *cmd,
    struct imap_mailbox *out, struct imap_parse_error *err)
{
	memset(out, 0, sizeof(*out));
	if (cmd->argc != 1)
		return bad(err, cmd, "expected one mailbox");
	if (imap_parse_mailbox(cmd->args, out, err) < 0) {
		err->tag = cmd->tag;
		return -1;
	}
	return 0;
}

/* create = "CREATE" SP mailbox [create-params]
 * create-params = SP "(" create-param *(SP create-param) ")"
 * create-param =/ "USE" SP "(" [use-attr *(SP use-attr)] ")" ; RFC 6154
 * use-attr = "\All" / "\Archive" / "\Drafts" / "\Flagged" / "\Junk" /
 *            "\Sent" / "\Trash" / use-attr-ext ; use-attr-ext = "\" atom */
int
imap_parse_create(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_create *out, struct imap_parse_error *err)
{
	const struct imap_arg *params = imap_cmd_arg(cmd, 1), *c, *u;
	struct imap_slice *use, s;
	size_t n = 0, cap = 0;

	memset(out, 0, sizeof(*out));
	if (cmd->argc < 1 || cmd->argc > 2)
		return bad(err, cmd, "expected CREATE mailbox [params]");
	if (imap_parse_mailbox(cmd->args, &out->mailbox, err) < 0) {
		err->tag = cmd->tag;
		return -1;
	}
	if (params == NULL)
		return 0;
	if (params->type != IMAP_ARG_LIST || params->count == 0)
		return bad(err, cmd, "invalid CREATE parameters");
	for (c = params->list; c != NULL; c = c->next)
		if (c->type == IMAP_ARG_LIST)
			cap += c->count;
	use = imap_alloc(p, cap + 1, sizeof(*use));
	for (c = params->list; c != NULL; c = c->next->next) {
		if (!imap_slice_ieq(c->str, "USE") ||
		    c->type != IMAP_ARG_ATOM || c->next == NULL ||
		    c->next->type != IMAP_ARG_LIST)
			return bad(err, cmd, "unknown CREATE parameter");
		for (u = c->next->list; u != NULL; u = u->next) {
			if (!imap_arg_atom_text(u, &s) || s.p[0] != '\\' ||
			    !imap_valid_flag(s))
				return bad(err, cmd,
				    "invalid special-use attribute");
			use[n++] = s;
		}
	}
	out->use = use;
	out->nuse = n;
	return 0;
}

/* rename = "RENAME" SP mailbox SP mailbox */
int
imap_parse_rename(const struct imap_command *cmd, struct imap_rename *out,
    struct imap_parse_error *err)
{
	memset(out, 0, sizeof(*out));
	if (cmd->argc != 2)
		return bad(err, cmd, "expected RENAME from to");
	if (imap_parse_mailbox(cmd->args, &out->from, err) < 0 ||
	    imap_parse_mailbox(cmd->args->next, &out->to, err) < 0) {
		err->tag = cmd->tag;
		return -1;
	}
	return 0;
}

static int
with_tag(struct imap_parse_error *err, const struct imap_command *cmd)
{
	err->tag = cmd->tag;
	return -1;
}

/* known-uids, known-sequence-set, known-uid-set: sequence sets without
 * "*" (RFC 7162 section 7) */
static int
known_set(struct imap_parser *p, const struct imap_command *cmd,
    const struct imap_arg *a, struct imap_seqset *out,
    struct imap_parse_error *err)
{
	size_t i;

	if (imap_parse_seqset(p, a, false, out, err) < 0)
		return with_tag(err, cmd);
	for (i = 0; i < out->count; i++)
		if (out->ranges[i].hi == IMAP_SEQ_STAR)
			return bad(err, cmd, "'*' not allowed in QRESYNC");
	return 0;
}

/* select = "SELECT" SP mailbox [select-params]
 * select-params = SP "(" select-param *(SP select-param) ")"
 * select-param =/ "CONDSTORE" / "QRESYNC" SP "(" uidvalidity SP
 *      mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
 * seq-match-data = "(" known-sequence-set SP known-uid-set ")"
 * uidvalidity = nz-number ; mod-sequence-value = 1*DIGIT (<= 2^63-1) */
int
imap_parse_select(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_select *out, struct imap_parse_error *err)
{
	const struct imap_arg *params = imap_cmd_arg(cmd, 1), *c;

	memset(out, 0, sizeof(*out));
	if (cmd->argc < 1 || cmd->argc > 2)
		return bad(err, cmd, "expected mailbox [parameters]");
	if (imap_parse_mailbox(cmd->args, &out->mailbox, err) < 0)
		return with_tag(err, cmd);
	if (params == NULL)
		return 0;
	if (params->type != IMAP_ARG_LIST || params->count == 0)
		return bad(err, cmd, "invalid SELECT parameters");
	for (c = params->list; c != NULL; c = c->next) {
		const struct imap_arg *q, *x;

		if (c->type == IMAP_ARG_ATOM &&
		    imap_slice_ieq(c->str, "CONDSTORE") && !out->condstore) {
			out->condstore = true;
			continue;
		}
		if (c->type != IMAP_ARG_ATOM ||
		    !imap_slice_ieq(c->str, "QRESYNC") || out->qresync ||
		    c->next == NULL || c->next->type != IMAP_ARG_LIST)
			return bad(err, cmd, "unknown SELECT parameter");
		c = c->next;
		q = c->list;
		if (c->count < 2 || c->count > 4 ||
		    q->type != IMAP_ARG_NUMBER || q->str.p[0] == '0' ||
		    q->num > UINT32_MAX ||
		    q->next->type != IMAP_ARG_NUMBER || q->next->num == 0)
			return bad(err, cmd, "invalid QRESYNC parameters");
		out->qresync = true;
		out->uidvalidity = (uint32_t)q->num;
		out->modseq = q->next->num;
		x = q->next->next;
		if (x != NULL && x->type != IMAP_ARG_LIST) {
			if (known_set(p, cmd, x, &out->known_uids, err) < 0)
				return -1;
			out->has_known_uids = true;
			x = x->next;
		}
		if (x != NULL) {
			if (x->type != IMAP_ARG_LIST || x->count != 2 ||
			    x->next != NULL)
				return bad(err, cmd,
				    "invalid QRESYNC sequence match data");
			if (known_set(p, cmd, x->list, &out->known_seqs,
			    err) < 0 || known_set(p, cmd, x->list->next,
			    &out->known_seq_uids, err) < 0)
				return -1;
			out->has_seq_match = true;
		}
	}
	return 0;
}

/* status-att = "MESSAGES" / "UIDNEXT" / "UIDVALIDITY" / "UNSEEN" /
 *              "DELETED" / "SIZE" / "RECENT" (IMAP4rev1) /
 *              "HIGHESTMODSEQ" (RFC 7162) / "APPENDLIMIT" (RFC 7889) */
int
imap_parse_status_items(const struct imap_arg *a, unsigned *items_r,
    struct imap_parse_error *err)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} items[] = {
		{ "MESSAGES", IMAP_STATUS_MESSAGES },
		{ "UIDNEXT", IMAP_STATUS_UIDNEXT },
		{ "UIDVALIDITY", IMAP_STATUS_UIDVALIDITY },
		{ "UNSEEN", IMAP_STATUS_UNSEEN },
		{ "DELETED", IMAP_STATUS_DELETED },
		{ "SIZE", IMAP_STATUS_SIZE },
		{ "RECENT", IMAP_STATUS_RECENT },
		{ "HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ },
		{ "APPENDLIMIT", IMAP_STATUS_APPENDLIMIT },
	};
	const struct imap_arg *c;
	size_t i;

	*items_r = 0;
	if (a == NULL || a->type != IMAP_ARG_LIST || a->count == 0)
		return bad(err, NULL, "expected a list of status items");
	for (c = a->list; c != NULL; c = c->next) {
		for (i = 0; i < sizeof(items) / sizeof(items[0]); i++)
			if (c->type == IMAP_ARG_ATOM && c->section == NULL &&
			    imap_slice_ieq(c->str, items[i].name))
				break;
		if (i == sizeof(items) / sizeof(items[0]))
			return bad(err, NULL, "unknown status item");
		*items_r |= items[i].bit;
	}
	return 0;
}

/* status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")" */
int
imap_parse_status(const struct imap_command *cmd, struct imap_status *out,
    struct imap_parse_error *err)
{
	memset(out, 0, sizeof(*out));
	if (cmd->argc != 2)
		return bad(err, cmd, "expected STATUS mailbox (items)");
	if (imap_parse_mailbox(cmd->args, &out->mailbox, err) < 0 ||
	    imap_parse_status_items(cmd->args->next, &out->items, err) < 0)
		return with_tag(err, cmd);
	return 0;
}

/* append = "APPEND" SP mailbox [SP flag-list] [SP date-time] SP
 *          (literal / literal8)       ; literal8: RFC 3516 BINARY */
int
imap_parse_append(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_append *out, struct imap_parse_error *err)
{
	const struct imap_arg *a;

	memset(out, 0, sizeof(*out));
	if (cmd->argc < 2 || cmd->argc > 4)
		return bad(err, cmd, "expected APPEND mailbox [flags] [date] "
		    "literal");
	if (imap_parse_mailbox(cmd->args, &out->mailbox, err) < 0)
		return with_tag(err, cmd);
	a = cmd->args->next;
	if (a->type == IMAP_ARG_LIST) {
		if (imap_parse_flag_list(p, a, &out->flags, err) < 0)
			return with_tag(err, cmd);
		out->has_flags = true;
		a = a->next;
	}
	if (a != NULL && a->type == IMAP_ARG_QUOTED) {
		if (imap_parse_datetime(a, &out->date) < 0)
			return bad(err, cmd, "invalid APPEND date-time");
		out->has_date = true;
		a = a->next;
	}
	if (a == NULL || a->type != IMAP_ARG_LITERAL || a->next != NULL)
		return bad(err, cmd, "APPEND message must be a literal");
	out->data = a->str;
	out->binary = a->literal8;
	return 0;
}

/* list-mailbox = 1*list-char / string
 * list-char = ATOM-CHAR / list-wildcards / resp-specials */
static bool
list_mailbox(const struct imap_arg *a, struct imap_slice *s_r)
{
	size_t i;

	if (a == NULL || !imap_arg_is_string(a) || a->literal8)
		return false;
	*s_r = a->str;
	if (!imap_utf8_valid(a->str.p, a->str.len))
		return false;
	if (a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL)
		return true;
	for (i = 0; i < a->str.len; i++)
		if (!imap_is_astring_char(a->str.p[i]) &&
		    a->str.p[i] != '%' && a->str.p[i] != '*')
			return false;
	return true;
}

static int
list_opts(const struct imap_arg *a, bool ret, unsigned *opts_r,
    unsigned *status_r, struct imap_parse_error *err,
    const struct imap_command *cmd)
{
	const struct imap_arg *c;

	for (c = a->list; c != NULL; c = c->next) {
		struct imap_slice s;

		if (!imap_arg_atom_text(c, &s))
			return bad(err, cmd, "invalid LIST option");
		if (imap_slice_ieq(s, "SUBSCRIBED"))
			*opts_r |= IMAP_LIST_SUBSCRIBED;
		else if (imap_slice_ieq(s, "SPECIAL-USE"))
			*opts_r |= IMAP_LIST_SPECIAL_USE;
		else if (!ret && imap_slice_ieq(s, "REMOTE"))
			*opts_r |= IMAP_LIST_REMOTE;
		else if (!ret && imap_slice_ieq(s, "RECURSIVEMATCH"))
			*opts_r |= IMAP_LIST_RECURSIVEMATCH;
		else if (ret && imap_slice_ieq(s, "CHILDREN"))
			*opts_r |= IMAP_LIST_CHILDREN;
		else if (ret && imap_slice_ieq(s, "STATUS") &&
		    !(*opts_r & IMAP_LIST_STATUS)) {
			*opts_r |= IMAP_LIST_STATUS;
			c = c->next;
			if (imap_parse_status_items(c, status_r, err) < 0)
				return with_tag(err, cmd);
		} else
			return bad(err, cmd, ret ? "unknown LIST return option" :
			    "unknown LIST selection option");
	}
	return 0;
}

/* list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
 *        [SP list-return-opts]
 * list-select-opts = "(" [ (*(list-select-opt SP) list-select-base-opt
 *        *(SP list-select-opt)) / (list-select-independent-opt
 *        *(SP list-select-independent-opt)) ] ")"
 *   base: "SUBSCRIBED" / "SPECIAL-USE" (RFC 6154); independent: "REMOTE";
 *   mod: "RECURSIVEMATCH" (needs a base option)
 * mbox-or-pat = list-mailbox / patterns
 * patterns = "(" list-mailbox *(SP list-mailbox) ")"
 * list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
 * return-option = "SUBSCRIBED" / "CHILDREN" / "SPECIAL-USE" /
 *        "STATUS" SP "(" status-att *(SP status-att) ")"
 * lsub = "LSUB" SP mailbox SP list-mailbox */
int
imap_parse_list(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_list *out, struct imap_parse_error *err)
{
	const struct imap_arg *a = cmd->args, *c;
	struct imap_slice *pats;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (cmd->cmd == IMAP_CMD_LSUB) {
		pats = imap_alloc(p, 1, sizeof(*pats));
		if (cmd->argc != 2 || !imap_arg_is_astring(a) ||
		    !list_mailbox(a->next, &pats[0]))
			return bad(err, cmd, "expected LSUB reference pattern");
		out->reference = a->str;
		out->patterns = pats;
		out->npatterns = 1;
		return 0;
	}
	if (a != NULL && a->type == IMAP_ARG_LIST) {
		out->extended = true;
		if (list_opts(a, false, &out->select_opts, &out->status_items,
		    err, cmd) < 0)
			return -1;
		if ((out->select_opts & IMAP_LIST_RECURSIVEMATCH) &&
		    !(out->select_opts &
		    (IMAP_LIST_SUBSCRIBED | IMAP_LIST_SPECIAL_USE)))
			return bad(err, cmd, "RECURSIVEMATCH needs a base "
			    "selection option");
		a = a->next;
	}
	if (a == NULL || a->next == NULL || !imap_arg_is_astring(a) ||
	    !imap_utf8_valid(a->str.p, a->str.len))
		return bad(err, cmd, "expected LIST reference pattern");
	out->reference = a->str;
	a = a->next;
	if (a->type == IMAP_ARG_LIST) {
		if (a->count == 0)
			return bad(err, cmd, "empty LIST pattern list");
		out->extended = true;
		pats = imap_alloc(p, a->count, sizeof(*pats));
		for (c = a->list; c != NULL; c = c->next)
			if (!list_mailbox(c, &pats[n++]))
				return bad(err, cmd, "invalid LIST pattern");
	} else {
		pats = imap_alloc(p, 1, sizeof(*pats));
		if (!list_mailbox(a, &pats[n++]))
			return bad(err, cmd, "invalid LIST pattern");
	}
	out->patterns = pats;
	out->npatterns = n;
	a = a->next;
	if (a == NULL)
		return 0;
	if (a->type != IMAP_ARG_ATOM || !imap_slice_ieq(a->str, "RETURN") ||
	    a->next == NULL || a->next->type != IMAP_ARG_LIST ||
	    a->next->next != NULL)
		return bad(err, cmd, "expected RETURN (options)");
	out->extended = true;
	return list_opts(a->next, true, &out->return_opts,
	    &out->status_items, err, cmd);
}

/* copy = "COPY" SP sequence-set SP mailbox ; move likewise (RFC 6851) */
int
imap_parse_copy(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_copy *out, struct imap_parse_error *err)
{
	memset(out, 0, sizeof(*out));
	if (cmd->argc != 2)
		return bad(err, cmd, "expected sequence-set mailbox");
	if (imap_parse_seqset(p, cmd->args, true, &out->set, err) < 0 ||
	    imap_parse_mailbox(cmd->args->next, &out->mailbox, err) < 0)
		return with_tag(err, cmd);
	return 0;
}

/* uid-expunge = "UID" SP "EXPUNGE" SP sequence-set ; RFC 4315 */
int
imap_parse_uid_expunge(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_seqset *out, struct imap_parse_error *err)
{
	memset(out, 0, sizeof(*out));
	if (cmd->argc != 1)
		return bad(err, cmd, "expected a UID set");
	if (imap_parse_seqset(p, cmd->args, true, out, err) < 0)
		return with_tag(err, cmd);
	return 0;
}

/* getquota = "GETQUOTA" SP quota-root-name ; quota-root-name = astring */
int
imap_parse_getquota(const struct imap_command *cmd,
    struct imap_slice *root_r, struct imap_parse_error *err)
{
	if (cmd->argc != 1 || !imap_arg_is_astring(cmd->args))
		return bad(err, cmd, "expected a quota root");
	*root_r = cmd->args->str;
	return 0;
}

/* setquota = "SETQUOTA" SP quota-root-name SP setquota-list
 * setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")"
 * setquota-resource = resource-name SP resource-limit
 * resource-name = atom ; resource-limit = number64 */
int
imap_parse_setquota(struct imap_parser *p, const struct imap_command *cmd,
    struct imap_setquota *out, struct imap_parse_error *err)
{
	const struct imap_arg *l = imap_cmd_arg(cmd, 1), *c;
	struct imap_quota_resource *r;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (cmd->argc != 2 || !imap_arg_is_astring(cmd->args) ||
	    l->type != IMAP_ARG_LIST || l->count % 2 != 0)
		return bad(err, cmd, "expected SETQUOTA root (resources)");
	out->root = cmd->args->str;
	r = imap_alloc(p, l->count / 2 + 1, sizeof(*r));
	for (c = l->list; c != NULL; c = c->next->next) {
		if (!imap_arg_atom_text(c, &r[n].name) ||
		    c->type != IMAP_ARG_ATOM || !imap_valid_flag(r[n].name) ||
		    r[n].name.p[0] == '\\' ||
		    c->next->type != IMAP_ARG_NUMBER)
			return bad(err, cmd, "invalid quota resource");
		r[n].limit = c->next->num;
		n++;
	}
	out->res = r;
	out->count = n;
	return 0;
}
