/* imap_parser: command framing (literals, limits, resynchronisation after
 * errors) and the generic argument tree of RFC 9051 section 9, plus the
 * per-command arena and the small grammar helpers the other
 * imap_parser_*.c files build on. */
#include <stdlib.h>
#include <string.h>

#include "imap_parser.h"
#include "imap_parser_private.h"
#include "xalloc.h"

static const struct {
	const char	*name;
	enum imap_cmd	 cmd;
} cmd_table[] = {
	{ "CAPABILITY", IMAP_CMD_CAPABILITY },
	{ "NOOP", IMAP_CMD_NOOP },
	{ "LOGOUT", IMAP_CMD_LOGOUT },
	{ "STARTTLS", IMAP_CMD_STARTTLS },
	{ "AUTHENTICATE", IMAP_CMD_AUTHENTICATE },
	{ "LOGIN", IMAP_CMD_LOGIN },
	{ "ENABLE", IMAP_CMD_ENABLE },
	{ "ID", IMAP_CMD_ID },
	{ "SELECT", IMAP_CMD_SELECT },
	{ "EXAMINE", IMAP_CMD_EXAMINE },
	{ "CREATE", IMAP_CMD_CREATE },
	{ "DELETE", IMAP_CMD_DELETE },
	{ "RENAME", IMAP_CMD_RENAME },
	{ "SUBSCRIBE", IMAP_CMD_SUBSCRIBE },
	{ "UNSUBSCRIBE", IMAP_CMD_UNSUBSCRIBE },
	{ "LIST", IMAP_CMD_LIST },
	{ "LSUB", IMAP_CMD_LSUB },
	{ "NAMESPACE", IMAP_CMD_NAMESPACE },
	{ "STATUS", IMAP_CMD_STATUS },
	{ "APPEND", IMAP_CMD_APPEND },
	{ "IDLE", IMAP_CMD_IDLE },
	{ "CHECK", IMAP_CMD_CHECK },
	{ "CLOSE", IMAP_CMD_CLOSE },
	{ "UNSELECT", IMAP_CMD_UNSELECT },
	{ "EXPUNGE", IMAP_CMD_EXPUNGE },
	{ "SEARCH", IMAP_CMD_SEARCH },
	{ "FETCH", IMAP_CMD_FETCH },
	{ "STORE", IMAP_CMD_STORE },
	{ "COPY", IMAP_CMD_COPY },
	{ "MOVE", IMAP_CMD_MOVE },
	{ "SORT", IMAP_CMD_SORT },
	{ "THREAD", IMAP_CMD_THREAD },
	{ "GETQUOTA", IMAP_CMD_GETQUOTA },
	{ "GETQUOTAROOT", IMAP_CMD_GETQUOTAROOT },
	{ "SETQUOTA", IMAP_CMD_SETQUOTA },
};

static const struct {
	const char	*name;
	enum imap_cmd	 cmd, base;
} uid_table[] = {
	{ "FETCH", IMAP_CMD_UID_FETCH, IMAP_CMD_FETCH },
	{ "STORE", IMAP_CMD_UID_STORE, IMAP_CMD_STORE },
	{ "COPY", IMAP_CMD_UID_COPY, IMAP_CMD_COPY },
	{ "MOVE", IMAP_CMD_UID_MOVE, IMAP_CMD_MOVE },
	{ "SEARCH", IMAP_CMD_UID_SEARCH, IMAP_CMD_SEARCH },
	{ "EXPUNGE", IMAP_CMD_UID_EXPUNGE, IMAP_CMD_EXPUNGE },
	{ "SORT", IMAP_CMD_UID_SORT, IMAP_CMD_SORT },
	{ "THREAD", IMAP_CMD_UID_THREAD, IMAP_CMD_THREAD },
};

static const char *const uid_names[] = {
	"UID FETCH", "UID STORE", "UID COPY", "UID MOVE", "UID SEARCH",
	"UID EXPUNGE", "UID SORT", "UID THREAD",
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

void
imap_limits_preauth(struct imap_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->max_line = IMAP_LINE_MAX_PREAUTH;
	l->max_literal = IMAP_LITERAL_MAX_PREAUTH;
	l->max_command = IMAP_LINE_MAX_PREAUTH + IMAP_LITERAL_MAX_PREAUTH;
	l->max_depth = IMAP_DEPTH_MAX;
	l->max_args = IMAP_ARGS_MAX_PREAUTH;
	l->max_ranges = IMAP_RANGES_MAX;
	l->literal_mode = IMAP_LITERAL_MINUS;
}

void
imap_limits_auth(struct imap_limits *l, uint64_t appendlimit)
{
	memset(l, 0, sizeof(*l));
	l->max_line = IMAP_LINE_MAX_AUTH;
	l->max_literal = appendlimit;
	l->max_command = 0;
	l->max_depth = IMAP_DEPTH_MAX;
	l->max_args = IMAP_ARGS_MAX_AUTH;
	l->max_ranges = IMAP_RANGES_MAX;
	l->literal_mode = IMAP_LITERAL_PLUS;
}

const char *
imap_cmd_name(enum imap_cmd cmd)
{
	size_t i;

	if (cmd >= IMAP_CMD_UID_FETCH && cmd < IMAP_CMD_COUNT)
		return uid_names[cmd - IMAP_CMD_UID_FETCH];
	for (i = 0; i < NELEM(cmd_table); i++)
		if (cmd_table[i].cmd == cmd)
			return cmd_table[i].name;
	return NULL;
}

enum imap_cmd
imap_cmd_base(enum imap_cmd cmd)
{
	size_t i;

	for (i = 0; i < NELEM(uid_table); i++)
		if (uid_table[i].cmd == cmd)
			return uid_table[i].base;
	return cmd;
}

bool
imap_cmd_is_uid(enum imap_cmd cmd)
{
	return cmd >= IMAP_CMD_UID_FETCH && cmd < IMAP_CMD_COUNT;
}

const char *
imap_perr_resp_code(enum imap_perr code)
{
	switch (code) {
	case IMAP_PERR_LINE_TOO_LONG:
	case IMAP_PERR_LITERAL_TOO_BIG:
	case IMAP_PERR_COMMAND_TOO_BIG:
	case IMAP_PERR_LITERAL_MINUS:
		return "TOOBIG";
	case IMAP_PERR_TOO_DEEP:
	case IMAP_PERR_TOO_MANY_ARGS:
	case IMAP_PERR_TOO_MANY_RANGES:
		return "LIMIT";
	default:
		return NULL;
	}
}

/* ---- character classes (RFC 9051 section 9) ---- */

/* ATOM-CHAR = <any CHAR except atom-specials>
 * atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards /
 *                 quoted-specials / resp-specials */
bool
imap_is_atom_char(uint8_t c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

/* ASTRING-CHAR = ATOM-CHAR / resp-specials */
bool
imap_is_astring_char(uint8_t c)
{
	return imap_is_atom_char(c) || c == ']';
}

bool
imap_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

bool
imap_slice_eq(struct imap_slice s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && (n == 0 || memcmp(s.p, lit, n) == 0);
}

bool
imap_slice_ieq(struct imap_slice s, const char *lit)
{
	size_t i, n = strlen(lit);

	if (s.len != n)
		return false;
	for (i = 0; i < n; i++) {
		uint8_t a = s.p[i], b = (uint8_t)lit[i];

		if (a >= 'a' && a <= 'z')
			a -= 32;
		if (b >= 'a' && b <= 'z')
			b -= 32;
		if (a != b)
			return false;
	}
	return true;
}

int
imap_slice_number(struct imap_slice s, uint64_t min, uint64_t max,
    uint64_t *v_r)
{
	uint64_t v = 0;
	size_t i;

	if (s.len == 0)
		return -1;
	for (i = 0; i < s.len; i++) {
		if (!imap_is_digit(s.p[i]))
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (v < min || v > max)
		return -1;
	*v_r = v;
	return 0;
}

/* ---- arena: helper outputs live until the next command ---- */

void *
imap_alloc(struct imap_parser *p, size_t n, size_t size)
{
	struct imap_arena_block *b = p->arena;
	size_t bytes, units, need;

	if (__builtin_mul_overflow(n, size, &bytes))
		abort();
	units = (bytes + sizeof(max_align_t) - 1) / sizeof(max_align_t);
	if (units == 0)
		units = 1;
	if (b == NULL || b->cap - b->used < units) {
		need = units > 256 ? units : 256;
		b = xmalloc(sizeof(*b) + need * sizeof(max_align_t));
		b->used = 0;
		b->cap = need;
		b->next = p->arena;
		p->arena = b;
	}
	/* UNSAFE: used + units <= cap was checked or just made true */
	b->used += units;
	memset(&b->data[b->used - units], 0, units * sizeof(max_align_t));
	return &b->data[b->used - units];
}

void
imap_arena_clear(struct imap_parser *p)
{
	struct imap_arena_block *b, *next;

	if (p->arena == NULL)
		return;
	/* keep the newest block, it is usually enough for the next command */
	for (b = p->arena->next; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	p->arena->next = NULL;
	p->arena->used = 0;
}

/* ---- parser life cycle ---- */

struct imap_parser *
imap_parser_new(const struct imap_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	p->limits = *limits;
	p->next_limits = *limits;
	p->brace = IMAP_NONE;
	return p;
}

void
imap_parser_free(struct imap_parser **pp)
{
	struct imap_parser *p = *pp;

	if (p == NULL)
		return;
	imap_arena_clear(p);
	free(p->arena);
	free(p->args);
	free(p->scratch);
	free(p);
	*pp = NULL;
}

static void
frame_restart(struct imap_parser *p)
{
	p->pos = 0;
	p->line_octets = 0;
	p->lit_left = 0;
	p->brace = IMAP_NONE;
	p->literals = 0;
	p->in_lit = false;
	p->quoted = false;
	p->escaped = false;
	p->started = false;
}

void
imap_parser_reset(struct imap_parser *p)
{
	frame_restart(p);
	p->skipping = false;
}

void
imap_parser_set_limits(struct imap_parser *p,
    const struct imap_limits *limits)
{
	p->next_limits = *limits;
}

/* ---- errors ---- */

int
imap_fail(struct imap_parse_error *err, const struct imap_command *cmd,
    enum imap_perr code, const char *reason)
{
	memset(err, 0, sizeof(*err));
	err->code = code;
	err->reason = reason;
	if (cmd != NULL)
		err->tag = cmd->tag;
	return -1;
}

/* tag = 1*<any ASTRING-CHAR except "+">, followed by SP */
static size_t
tag_len(const uint8_t *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!imap_is_astring_char(data[i]) || data[i] == '+')
			break;
	if (i == 0 || i >= len || data[i] != ' ')
		return 0;
	return i;
}

/* A framing error at data[at]: drop through the next LF, or everything
 * and keep dropping until an LF arrives. */
static int
frame_fail(struct imap_parser *p, const uint8_t *data, size_t len,
    size_t at, enum imap_perr code, const char *reason,
    struct imap_parse_result *res)
{
	const uint8_t *lf = at < len ? memchr(data + at, '\n', len - at) :
	    NULL;
	size_t tl = tag_len(data, len);

	imap_fail(&res->err, NULL, code, reason);
	if (tl > 0) {
		res->err.tag.p = data;
		res->err.tag.len = tl;
	}
	frame_restart(p);
	if (lf != NULL) {
		res->consumed = (size_t)(lf - data) + 1;
	} else {
		res->consumed = len;
		p->skipping = true;
	}
	return -1;
}

/* A refused literal announced by the header ending with CRLF at cr. */
static int
literal_fail(struct imap_parser *p, const uint8_t *data, size_t len,
    size_t cr, bool nonsync, enum imap_perr code, const char *reason,
    struct imap_parse_result *res)
{
	size_t tl = tag_len(data, len);

	imap_fail(&res->err, NULL, code, reason);
	if (tl > 0) {
		res->err.tag.p = data;
		res->err.tag.len = tl;
	}
	frame_restart(p);
	if (nonsync) {
		/* the data follows whatever we say: RFC 7888 section 4 */
		res->err.close = true;
		res->consumed = len;
	} else {
		/* the client waits for "+" and sends nothing more of it */
		res->consumed = cr + 2;
	}
	return -1;
}

/* literal = "{" number64 ["+"] "}" CRLF *CHAR8
 * literal8 = "~{" number64 ["+"] "}" CRLF *OCTET
 * Is data[brace..cr) such a header? */
static bool
literal_header(const struct imap_parser *p, const uint8_t *data, size_t cr,
    uint64_t *n_r, bool *nonsync_r, bool *toobig_r)
{
	size_t i, end;
	uint64_t n = 0;

	*toobig_r = false;
	if (p->quoted || p->brace == IMAP_NONE || cr < p->brace + 3 ||
	    data[cr - 1] != '}')
		return false;
	end = cr - 1;
	*nonsync_r = data[end - 1] == '+';
	if (*nonsync_r)
		end--;
	if (end == p->brace + 1)
		return false;
	for (i = p->brace + 1; i < end; i++) {
		if (!imap_is_digit(data[i]))
			return false;
		if (n > (IMAP_NUMBER64_MAX - 9) / 10)
			*toobig_r = true;
		else
			n = n * 10 + (uint64_t)(data[i] - '0');
	}
	*n_r = n;
	return true;
}

static int build_command(struct imap_parser *p, const uint8_t *data,
    size_t end, struct imap_command *cmd, struct imap_parse_result *res);

static uint64_t
max_command(const struct imap_limits *l)
{
	if (l->max_command != 0)
		return l->max_command;
	if (l->max_literal > UINT64_MAX - l->max_line)
		return UINT64_MAX;
	return l->max_line + l->max_literal;
}

int
imap_parser_parse(struct imap_parser *p, const uint8_t *data, size_t len,
    struct imap_command *cmd_r, struct imap_parse_result *res)
{
	memset(res, 0, sizeof(*res));
	memset(cmd_r, 0, sizeof(*cmd_r));
	if (p->skipping) {
		const uint8_t *lf = len > 0 ? memchr(data, '\n', len) : NULL;

		if (lf == NULL) {
			res->consumed = len;
			return 0;
		}
		res->consumed = (size_t)(lf - data) + 1;
		p->skipping = false;
		return 0;
	}
	if (!p->started) {
		frame_restart(p);
		p->limits = p->next_limits;
		imap_arena_clear(p);
		p->nargs = 0;
		p->started = true;
	}
	if (p->pos > len)
		abort();	/* the caller broke the contract */

	while (p->pos < len) {
		uint8_t c;

		if (p->in_lit) {
			size_t avail = len - p->pos;

			if (p->lit_left > avail) {
				p->lit_left -= avail;
				p->pos = len;
				return 0;
			}
			/* UNSAFE: lit_left <= avail, so pos stays <= len */
			p->pos += (size_t)p->lit_left;
			p->lit_left = 0;
			p->in_lit = false;
			continue;
		}
		c = data[p->pos];
		if (c == '\r') {
			uint64_t n;
			bool nonsync, toobig;
			size_t cr = p->pos;

			if (cr + 1 >= len)
				return 0;
			if (data[cr + 1] != '\n')
				return frame_fail(p, data, len, cr,
				    IMAP_PERR_BAD_EOL, "CR without LF", res);
			p->line_octets += 2;
			if (!literal_header(p, data, cr, &n, &nonsync,
			    &toobig)) {
				p->started = false;
				return build_command(p, data, cr + 2, cmd_r,
				    res);
			}
			if (nonsync &&
			    p->limits.literal_mode == IMAP_LITERAL_SYNC_ONLY)
				return literal_fail(p, data, len, cr, true,
				    IMAP_PERR_NONSYNC_REFUSED,
				    "non-synchronizing literals are not "
				    "supported", res);
			if (nonsync && !toobig &&
			    p->limits.literal_mode == IMAP_LITERAL_MINUS &&
			    n > IMAP_LITERAL_MINUS_MAX)
				return literal_fail(p, data, len, cr, true,
				    IMAP_PERR_LITERAL_MINUS,
				    "non-synchronizing literal over 4096 "
				    "octets (LITERAL-)", res);
			if (toobig || n > p->limits.max_literal)
				return literal_fail(p, data, len, cr, nonsync,
				    IMAP_PERR_LITERAL_TOO_BIG,
				    "literal too big", res);
			if ((uint64_t)cr + 2 + n > max_command(&p->limits))
				return literal_fail(p, data, len, cr, nonsync,
				    IMAP_PERR_COMMAND_TOO_BIG,
				    "command too big", res);
			if (p->literals + 1 > p->limits.max_args)
				return literal_fail(p, data, len, cr, nonsync,
				    IMAP_PERR_TOO_MANY_ARGS,
				    "too many literals", res);
			p->literals++;
			p->pos = cr + 2;
			p->brace = IMAP_NONE;
			p->lit_left = n;
			p->in_lit = true;
			if (!nonsync) {
				res->need_cont = true;
				return 0;
			}
			continue;
		}
		if (c == '\n')
			return frame_fail(p, data, len, p->pos,
			    IMAP_PERR_BAD_EOL, "LF without CR", res);
		/* room must remain for this octet and a CRLF */
		if (p->line_octets + 3 > p->limits.max_line)
			return frame_fail(p, data, len, p->pos,
			    IMAP_PERR_LINE_TOO_LONG, "line too long", res);
		p->line_octets++;
		if (p->quoted) {
			if (p->escaped)
				p->escaped = false;
			else if (c == '\\')
				p->escaped = true;
			else if (c == '"')
				p->quoted = false;
		} else if (c == '"') {
			p->quoted = true;
		} else if (c == '{') {
			p->brace = p->pos;
		}
		p->pos++;
	}
	return 0;
}

/* ---- the argument tree ---- */

struct tree {
	struct imap_parser		*p;
	const uint8_t			*d;
	size_t				 pos, end;
	bool				 fetch;	/* '[' opens a section */
	unsigned			 depth;
	unsigned			 in_section;
	struct imap_parse_error		*err;
	const struct imap_command	*cmd;
};

static int
tree_fail(struct tree *t, enum imap_perr code, const char *reason)
{
	return imap_fail(t->err, t->cmd, code, reason);
}

static size_t
new_node(struct tree *t, enum imap_arg_type type)
{
	struct imap_parser *p = t->p;
	struct imap_arg *a;

	if (p->nargs >= p->limits.max_args)
		return IMAP_NONE;
	if (p->nargs == p->args_cap) {
		size_t cap = p->args_cap == 0 ? 16 : p->args_cap * 2;

		p->args = xreallocarray(p->args, cap, sizeof(*p->args));
		p->args_cap = cap;
	}
	a = &p->args[p->nargs];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->i_next = a->i_list = a->i_section = IMAP_NONE;
	return p->nargs++;
}

/* Decode one UTF-8 sequence at s[0..len); its length, 0 when invalid. */
static size_t
utf8_seq(const uint8_t *s, size_t len)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool
imap_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		n = utf8_seq(s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE
 * QUOTED-CHAR = <any TEXT-CHAR except quoted-specials> /
 *               "\" quoted-specials / UTF8-2 / UTF8-3 / UTF8-4 */
static int
parse_quoted(struct tree *t, struct imap_arg *a)
{
	struct imap_parser *p = t->p;
	size_t start = p->scratch_len;

	t->pos++;
	for (;;) {
		uint8_t c = t->d[t->pos];
		size_t n;

		if (c == '"')
			break;
		if (c == '\r' || c == '\n' || c == '\0')
			return tree_fail(t, IMAP_PERR_SYNTAX,
			    c == '\0' ? "NUL in quoted string" :
			    "unterminated quoted string");
		if (c == '\\') {
			c = t->d[t->pos + 1];
			if (c != '"' && c != '\\')
				return tree_fail(t, IMAP_PERR_SYNTAX,
				    "bad escape in quoted string");
			t->pos++;
			n = 1;
		} else {
			n = utf8_seq(t->d + t->pos, t->end - t->pos);
			if (n == 0)
				return tree_fail(t, IMAP_PERR_SYNTAX,
				    "invalid UTF-8 in quoted string");
		}
		/* UNSAFE: scratch holds line_octets, more than all quoted
		 * text of the command */
		memcpy(p->scratch + p->scratch_len, t->d + t->pos, n);
		p->scratch_len += n;
		t->pos += n;
	}
	t->pos++;
	a->str.p = p->scratch + start;
	a->str.len = p->scratch_len - start;
	return 0;
}

/* literal = "{" number64 ["+"] "}" CRLF *CHAR8 ; literal8 = "~" literal
 * (the framer has checked the header and the limits) */
static int
parse_literal(struct tree *t, struct imap_arg *a)
{
	uint64_t n = 0;

	if (t->d[t->pos] == '~') {
		a->literal8 = true;
		t->pos++;
		if (t->d[t->pos] != '{')
			return tree_fail(t, IMAP_PERR_SYNTAX,
			    "'~' without literal");
	}
	t->pos++;
	if (!imap_is_digit(t->d[t->pos]))
		return tree_fail(t, IMAP_PERR_SYNTAX, "bad literal");
	while (imap_is_digit(t->d[t->pos]))
		n = n * 10 + (uint64_t)(t->d[t->pos++] - '0');
	if (t->d[t->pos] == '+') {
		a->nonsync = true;
		t->pos++;
	}
	if (t->d[t->pos] != '}' || t->d[t->pos + 1] != '\r' ||
	    t->d[t->pos + 2] != '\n' || n > t->end - t->pos - 3)
		return tree_fail(t, IMAP_PERR_SYNTAX, "bad literal");
	t->pos += 3;
	a->str.p = t->d + t->pos;
	a->str.len = (size_t)n;
	t->pos += (size_t)n;
	if (!a->literal8 && n > 0 &&
	    memchr(a->str.p, '\0', a->str.len) != NULL)
		return tree_fail(t, IMAP_PERR_SYNTAX, "NUL in literal");
	return 0;
}

static int parse_items(struct tree *t, uint8_t closer, size_t *first_r,
    size_t *count_r);

static bool
atom_char_here(const struct tree *t, uint8_t c)
{
	if (c == '%' || c == '*')
		return true;
	if (c == ']')
		return t->in_section == 0;
	if (c == '[' && t->fetch)
		return false;
	return imap_is_atom_char(c);
}

/* atom, number, NIL, flag ("\" atom), pattern; in FETCH:
 * name "[" [section items] "]" [partial] */
static int
parse_atom(struct tree *t, size_t idx)
{
	struct imap_arg *a = &t->p->args[idx];
	size_t start = t->pos, i;

	if (t->d[t->pos] == '\\')
		t->pos++;
	while (atom_char_here(t, t->d[t->pos]))
		t->pos++;
	if (t->pos == start || (t->d[start] == '\\' && t->pos == start + 1))
		return tree_fail(t, IMAP_PERR_SYNTAX,
		    "unexpected character in arguments");
	a->str.p = t->d + start;
	a->str.len = t->pos - start;
	if (t->fetch && t->d[t->pos] == '[') {
		size_t first = IMAP_NONE, count = 0, sec, pstart;

		if (t->depth + 1 > t->p->limits.max_depth)
			return tree_fail(t, IMAP_PERR_TOO_DEEP,
			    "too deeply nested");
		sec = new_node(t, IMAP_ARG_LIST);
		if (sec == IMAP_NONE)
			return tree_fail(t, IMAP_PERR_TOO_MANY_ARGS,
			    "too many arguments");
		t->pos++;
		pstart = t->pos;
		if (t->d[t->pos] != ']') {
			t->depth++;
			t->in_section++;
			if (parse_items(t, ']', &first, &count) < 0)
				return -1;
			t->in_section--;
			t->depth--;
		}
		/* t->p->args may have moved */
		t->p->args[sec].str.p = t->d + pstart;
		t->p->args[sec].str.len = t->pos - pstart;
		t->p->args[sec].i_list = first;
		t->p->args[sec].count = count;
		t->pos++;
		pstart = t->pos;
		while (t->d[t->pos] != '[' && imap_is_atom_char(t->d[t->pos]))
			t->pos++;
		a = &t->p->args[idx];
		a->i_section = sec;
		a->partial.p = t->d + pstart;
		a->partial.len = t->pos - pstart;
		return 0;
	}
	if (imap_slice_ieq(a->str, "NIL")) {
		a->type = IMAP_ARG_NIL;
		return 0;
	}
	for (i = 0; i < a->str.len; i++)
		if (!imap_is_digit(a->str.p[i]))
			return 0;
	if (imap_slice_number(a->str, 0, IMAP_NUMBER64_MAX, &a->num) == 0)
		a->type = IMAP_ARG_NUMBER;
	return 0;
}

static int
parse_item(struct tree *t, size_t *idx_r)
{
	uint8_t c = t->d[t->pos];
	size_t idx;

	idx = new_node(t, IMAP_ARG_ATOM);
	if (idx == IMAP_NONE)
		return tree_fail(t, IMAP_PERR_TOO_MANY_ARGS,
		    "too many arguments");
	*idx_r = idx;
	if (c == '(') {
		size_t first = IMAP_NONE, count = 0, start;

		if (t->depth + 1 > t->p->limits.max_depth)
			return tree_fail(t, IMAP_PERR_TOO_DEEP,
			    "too deeply nested");
		t->p->args[idx].type = IMAP_ARG_LIST;
		t->pos++;
		start = t->pos;
		if (t->d[t->pos] != ')') {
			unsigned saved = t->in_section;

			t->depth++;
			t->in_section = 0;
			if (parse_items(t, ')', &first, &count) < 0)
				return -1;
			t->in_section = saved;
			t->depth--;
		}
		t->p->args[idx].str.p = t->d + start;
		t->p->args[idx].str.len = t->pos - start;
		t->p->args[idx].i_list = first;
		t->p->args[idx].count = count;
		t->pos++;
		return 0;
	}
	if (c == '"') {
		t->p->args[idx].type = IMAP_ARG_QUOTED;
		return parse_quoted(t, &t->p->args[idx]);
	}
	if (c == '{' || c == '~') {
		t->p->args[idx].type = IMAP_ARG_LITERAL;
		return parse_literal(t, &t->p->args[idx]);
	}
	return parse_atom(t, idx);
}

/* items = item *(SP item), ended by closer (")" "]" or CR of CRLF) */
static int
parse_items(struct tree *t, uint8_t closer, size_t *first_r,
    size_t *count_r)
{
	size_t prev = IMAP_NONE, idx = IMAP_NONE;

	*first_r = IMAP_NONE;
	*count_r = 0;
	for (;;) {
		if (parse_item(t, &idx) < 0)
			return -1;
		if (prev == IMAP_NONE)
			*first_r = idx;
		else
			t->p->args[prev].i_next = idx;
		prev = idx;
		(*count_r)++;
		if (t->d[t->pos] == closer && (closer != '\r' ||
		    t->pos + 2 == t->end))
			return 0;
		if (t->d[t->pos] != ' ')
			return tree_fail(t, IMAP_PERR_SYNTAX, closer == ')' ?
			    "expected SP or ')'" : closer == ']' ?
			    "expected SP or ']'" : "expected SP or CRLF");
		t->pos++;
		if (t->d[t->pos] == closer || t->d[t->pos] == ' ')
			return tree_fail(t, IMAP_PERR_SYNTAX,
			    "extra space in arguments");
	}
}

static const struct imap_arg *
arg_ptr(const struct imap_parser *p, size_t i)
{
	return i == IMAP_NONE ? NULL : &p->args[i];
}

static size_t
command_word(const uint8_t *d, size_t pos)
{
	size_t i = pos;

	while (imap_is_atom_char(d[i]))
		i++;
	return i - pos;
}

/* command = tag SP (command-any / command-auth / command-nonauth /
 *           command-select) CRLF
 * data[0..end) is a whole command, ending in CRLF. */
static int
build_command(struct imap_parser *p, const uint8_t *data, size_t end,
    struct imap_command *cmd, struct imap_parse_result *res)
{
	struct tree t = { .p = p, .d = data, .end = end, .err = &res->err,
	    .cmd = cmd };
	struct imap_slice w;
	size_t i, n, first = IMAP_NONE, count = 0;

	res->consumed = end;
	n = tag_len(data, end);
	if (n == 0)
		return imap_fail(&res->err, NULL, IMAP_PERR_BAD_TAG,
		    "missing or invalid tag");
	cmd->tag.p = data;
	cmd->tag.len = n;
	t.pos = n + 1;
	w.p = data + t.pos;
	w.len = command_word(data, t.pos);
	cmd->name = w;
	for (i = 0; i < NELEM(cmd_table); i++)
		if (imap_slice_ieq(w, cmd_table[i].name))
			cmd->cmd = cmd_table[i].cmd;
	t.pos += w.len;
	if (imap_slice_ieq(w, "UID")) {
		if (data[t.pos] != ' ')
			return tree_fail(&t, IMAP_PERR_SYNTAX,
			    "UID without a command");
		t.pos++;
		w.p = data + t.pos;
		w.len = command_word(data, t.pos);
		cmd->name = w;
		for (i = 0; i < NELEM(uid_table); i++)
			if (imap_slice_ieq(w, uid_table[i].name))
				cmd->cmd = uid_table[i].cmd;
		t.pos += w.len;
	}
	if (cmd->cmd == IMAP_CMD_UNKNOWN)
		return tree_fail(&t, IMAP_PERR_UNKNOWN_COMMAND,
		    "unknown command");
	cmd->literals = p->literals;
	t.fetch = imap_cmd_base(cmd->cmd) == IMAP_CMD_FETCH;
	if (p->scratch_cap < p->line_octets) {
		p->scratch = xreallocarray(p->scratch, p->line_octets, 1);
		p->scratch_cap = p->line_octets;
	}
	p->scratch_len = 0;
	if (t.pos + 2 != end) {
		if (data[t.pos] != ' ')
			return tree_fail(&t, IMAP_PERR_SYNTAX,
			    "expected SP after the command name");
		t.pos++;
		if (t.pos + 2 == end || data[t.pos] == ' ')
			return tree_fail(&t, IMAP_PERR_SYNTAX,
			    "extra space in arguments");
		if (parse_items(&t, '\r', &first, &count) < 0)
			return -1;
	}
	for (i = 0; i < p->nargs; i++) {
		p->args[i].next = arg_ptr(p, p->args[i].i_next);
		p->args[i].list = arg_ptr(p, p->args[i].i_list);
		p->args[i].section = arg_ptr(p, p->args[i].i_section);
	}
	cmd->args = arg_ptr(p, first);
	cmd->argc = count;
	return 1;
}

/* ---- lines that are not commands ---- */

int
imap_parse_client_line(const uint8_t *data, size_t len, size_t max,
    struct imap_slice *line_r, size_t *consumed_r)
{
	const uint8_t *lf;
	size_t i;

	*consumed_r = 0;
	for (i = 0; i < len; i++) {
		if (data[i] == '\n')
			break;
		if (data[i] == '\r') {
			if (i + 1 == len)
				return 0;
			if (data[i + 1] != '\n' || i + 2 > max)
				break;
			line_r->p = data;
			line_r->len = i;
			*consumed_r = i + 2;
			return 1;
		}
		/* room must remain for this octet and a CRLF */
		if (i + 3 > max)
			break;
	}
	if (i == len)
		return 0;
	lf = memchr(data + i, '\n', len - i);
	*consumed_r = lf != NULL ? (size_t)(lf - data) + 1 : len;
	return -1;
}

bool
imap_line_is_done(struct imap_slice line)
{
	return imap_slice_ieq(line, "DONE");
}

/* ---- small shared helpers ---- */

bool
imap_arg_atom_text(const struct imap_arg *a, struct imap_slice *s_r)
{
	if (a == NULL || a->section != NULL || (a->type != IMAP_ARG_ATOM &&
	    a->type != IMAP_ARG_NUMBER && a->type != IMAP_ARG_NIL))
		return false;
	*s_r = a->str;
	return true;
}

bool
imap_arg_is_string(const struct imap_arg *a)
{
	return a != NULL && a->type != IMAP_ARG_LIST && a->section == NULL;
}

bool
imap_arg_is_astring(const struct imap_arg *a)
{
	size_t i;

	if (!imap_arg_is_string(a))
		return false;
	if (a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL)
		return !a->literal8;
	for (i = 0; i < a->str.len; i++)
		if (!imap_is_astring_char(a->str.p[i]))
			return false;
	return true;
}

int
imap_arg_copy(const struct imap_arg *a, char *dst, size_t size)
{
	if (!imap_arg_is_string(a) || a->str.len >= size || (a->str.len > 0 &&
	    memchr(a->str.p, '\0', a->str.len) != NULL))
		return -1;
	memcpy(dst, a->str.p, a->str.len);
	dst[a->str.len] = '\0';
	return 0;
}

const struct imap_arg *
imap_cmd_arg(const struct imap_command *cmd, size_t n)
{
	const struct imap_arg *a = cmd->args;

	while (a != NULL && n-- > 0)
		a = a->next;
	return a;
}
