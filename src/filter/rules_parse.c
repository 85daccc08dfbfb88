/* rules_parse: tokenizer and recursive-descent parser of the rule file.
 *
 *   file      = { rule }
 *   rule      = "rule" STRING [ "if" expr ] "then" action { ";" action }
 *               [ ";" ]
 *   expr      = term { "or" term }
 *   term      = factor { "and" factor }
 *   factor    = "not" factor / "(" expr ")" / test
 *   action    = "accept" / "discard" / "stop" / "reject" CODE STRING /
 *               "quarantine" [ STRING ] / "add-header" STRING STRING /
 *               "remove-header" STRING / "replace-header" STRING STRING /
 *               "tag-subject" STRING / "copy" STRING { STRING } /
 *               "redirect" STRING { STRING } /
 *               "strip-attachments" [ STRING ] /
 *               "notify" ( "admin" / "sender" ) [ STRING ]
 *
 * Tokens: words (letters, digits, "-", ".", "_", "/"), double-quoted
 * strings (\" and \\ escapes, one line, at most RULES_STRING_MAX), the
 * punctuation ( ) ; and the comparisons < <= > >= =. "#" starts a
 * comment to the end of the line. Line ends are blanks. */
#include "rules_parse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "xalloc.h"

enum tok_type { T_EOF = 0, T_WORD, T_STRING, T_LPAREN, T_RPAREN, T_SEMI,
	T_CMP, T_ERROR };

struct parser {
	const char	*p, *end;
	unsigned	 line;
	const char	*fname;
	char		*err;
	size_t		 errlen;
	bool		 failed;
	int		 depth;
	/* the current token */
	enum tok_type	 type;
	unsigned	 tline;
	unsigned	 sline;		/* line of the last string taken */
	char		 text[RULES_STRING_MAX + 1];
};

static void perr(struct parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
perr(struct parser *ps, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (ps->failed)
		return;
	ps->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s:%u: %s", ps->fname, ps->tline, msg);
}

/* An error about the string just taken (the parser is past it). */
#define perr_str(ps, ...) do {						\
	(ps)->tline = (ps)->sline;					\
	perr((ps), __VA_ARGS__);					\
} while (0)

static bool
is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '/' || c == '@' || c == ':';
}

/* Read the next token into ps. */
static void
next(struct parser *ps)
{
	size_t n = 0;
	char c;

	if (ps->failed) {
		ps->type = T_ERROR;
		return;
	}
	for (;;) {
		while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
		    *ps->p == '\r' || *ps->p == '\n')) {
			if (*ps->p == '\n')
				ps->line++;
			ps->p++;
		}
		if (ps->p < ps->end && *ps->p == '#') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
			continue;
		}
		break;
	}
	ps->tline = ps->line;
	ps->text[0] = '\0';
	if (ps->p >= ps->end) {
		ps->type = T_EOF;
		return;
	}
	c = *ps->p;
	if (c == '(' || c == ')' || c == ';') {
		ps->type = c == '(' ? T_LPAREN : c == ')' ? T_RPAREN : T_SEMI;
		ps->text[0] = c;
		ps->text[1] = '\0';
		ps->p++;
		return;
	}
	if (c == '<' || c == '>' || c == '=') {
		ps->type = T_CMP;
		ps->text[n++] = c;
		ps->p++;
		if (c != '=' && ps->p < ps->end && *ps->p == '=')
			ps->text[n++] = *ps->p++;
		ps->text[n] = '\0';
		return;
	}
	if (c == '"') {
		ps->p++;
		for (;;) {
			if (ps->p >= ps->end || *ps->p == '\n' ||
			    *ps->p == '\r') {
				perr(ps, "unterminated string");
				ps->type = T_ERROR;
				return;
			}
			c = *ps->p++;
			if (c == '"')
				break;
			if (c == '\\') {
				if (ps->p >= ps->end || (*ps->p != '"' &&
				    *ps->p != '\\')) {
					perr(ps, "bad escape in string (only "
					    "\\\" and \\\\)");
					ps->type = T_ERROR;
					return;
				}
				c = *ps->p++;
			}
			if (c == '\0') {
				perr(ps, "NUL in string");
				ps->type = T_ERROR;
				return;
			}
			if (n >= RULES_STRING_MAX) {
				perr(ps, "string longer than %d octets",
				    RULES_STRING_MAX);
				ps->type = T_ERROR;
				return;
			}
			ps->text[n++] = c;
		}
		ps->text[n] = '\0';
		ps->type = T_STRING;
		return;
	}
	if (is_word_char(c)) {
		while (ps->p < ps->end && is_word_char(*ps->p)) {
			if (n >= RULES_STRING_MAX) {
				perr(ps, "word too long");
				ps->type = T_ERROR;
				return;
			}
			ps->text[n++] = *ps->p++;
		}
		ps->text[n] = '\0';
		ps->type = T_WORD;
		return;
	}
	perr(ps, "unexpected character 0x%02x", (unsigned char)c);
	ps->type = T_ERROR;
}

static bool
is_word(const struct parser *ps, const char *w)
{
	return ps->type == T_WORD && ascii_ieq(ps->text, w);
}

/* Expect a word from a '|' list; returns its index or -1 (error set). */
static int
expect_word(struct parser *ps, const char *const *words, const char *what)
{
	int i;

	for (i = 0; words[i] != NULL; i++)
		if (is_word(ps, words[i])) {
			next(ps);
			return i;
		}
	if (ps->type == T_EOF)
		perr(ps, "expected %s, got the end of the file", what);
	else
		perr(ps, "expected %s, got \"%.40s\"", what, ps->text);
	return -1;
}

static char *
expect_string(struct parser *ps, const char *what)
{
	char *s;

	if (ps->type != T_STRING) {
		perr(ps, "expected a quoted %s", what);
		return NULL;
	}
	s = xstrdup(ps->text);
	ps->sline = ps->tline;
	next(ps);
	return s;
}

static int
new_node(struct rules_rule *r, enum rules_node_type type)
{
	struct rules_node *n;

	r->nodes = xreallocarray(r->nodes, r->nnodes + 1, sizeof(*n));
	n = &r->nodes[r->nnodes];
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->a = n->b = -1;
	return (int)r->nnodes++;
}

static const char *const str_ops[] = { "is", "contains", "matches", "like",
	NULL };
static const enum rules_op str_op_val[] = { RO_IS, RO_CONTAINS, RO_MATCHES,
	RO_LIKE };

/* glibc's regcomp takes exponential time on stacked repetitions
 * ("a****+", "(a*)*"): refuse a repetition right after another one (or
 * after a group that ends in one) and more than RULES_REGEX_REPEAT_MAX
 * of them. It also expands a counted repetition "x{n,m}" into m copies
 * of x, so nested counts multiply ("((xa{1,100}y){100}z){100}" takes
 * seconds): the product of every count in a regex (an upper bound of the
 * expansion, whatever the nesting) stays under RULES_REGEX_EXPAND_MAX.
 * So a rule file can never stall a worker. */
#define RULES_REGEX_REPEAT_MAX	32
#define RULES_REGEX_EXPAND_MAX	4096

/* The larger number of a "{n}", "{n,}" or "{n,m}" at p (after '{');
 * 0 when it is not one (regcomp then reports it). */
static unsigned long
regex_count(const char *p)
{
	unsigned long n = 0, m = 0;
	bool comma = false;

	for (; *p != '\0' && *p != '}'; p++) {
		if (*p == ',' && !comma)
			comma = true;
		else if (*p >= '0' && *p <= '9') {
			unsigned long *v = comma ? &m : &n;

			*v = *v * 10 + (unsigned long)(*p - '0');
			if (*v > RULES_REGEX_EXPAND_MAX)
				return RULES_REGEX_EXPAND_MAX + 1;
		} else
			return 0;
	}
	return m > n ? m : n;
}

static bool
regex_tame(const char *re)
{
	unsigned n = 0;
	unsigned long expand = 1, count;
	bool after_rep = false;

	for (; *re != '\0'; re++) {
		if (*re == '\\' && re[1] != '\0') {
			re++;
			after_rep = false;
		} else if (*re == '[') {
			/* a bracket expression: "]" first is literal */
			re++;
			if (*re == '^')
				re++;
			if (*re == ']')
				re++;
			while (*re != '\0' && *re != ']')
				re++;
			if (*re == '\0')
				return true;	/* regcomp reports it */
			after_rep = false;
		} else if (*re == '*' || *re == '+' || *re == '?' ||
		    *re == '{') {
			if (after_rep || ++n > RULES_REGEX_REPEAT_MAX)
				return false;
			if (*re == '{') {
				count = regex_count(re + 1);
				if (count > 1 && (expand *= count) >
				    RULES_REGEX_EXPAND_MAX)
					return false;
				while (*re != '\0' && *re != '}')
					re++;
			}
			if (*re == '\0')
				return true;
			after_rep = true;
		} else if (*re == ')') {
			/* "(a*)" still ends in a repetition: keep after_rep */
		} else
			after_rep = false;
	}
	return true;
}

/* strop STRING, into node n. */
static void
parse_strop(struct parser *ps, struct rules_rule *r, int n)
{
	struct rules_node *node;
	const char *pat;
	char *v;
	int i, rc;

	if ((i = expect_word(ps, str_ops, "is, contains, matches or like"))
	    < 0)
		return;
	if ((v = expect_string(ps, "value")) == NULL)
		return;
	node = &r->nodes[n];
	node->op = str_op_val[i];
	node->value = v;
	if (node->op == RO_MATCHES) {
		/* Matching is always case-insensitive: a Perl-style (?i)
		 * that admins write out of habit is accepted and dropped. */
		pat = strncmp(v, "(?i)", 4) == 0 ? v + 4 : v;
		if (!regex_tame(pat)) {
			perr_str(ps, "regular expression \"%.60s\" has stacked "
			    "or more than %d repetitions, or counts that "
			    "multiply past %d", v, RULES_REGEX_REPEAT_MAX,
			    RULES_REGEX_EXPAND_MAX);
			return;
		}
		rc = regcomp(&node->re, pat, REG_EXTENDED | REG_ICASE |
		    REG_NOSUB);
		if (rc != 0) {
			char why[128];

			regerror(rc, &node->re, why, sizeof(why));
			perr_str(ps, "bad regular expression \"%.60s\": %s", v,
			    why);
			return;
		}
		node->re_ok = true;
	}
}

static const char *const num_ops[] = { "<", "<=", ">", ">=", "=", NULL };
static const enum rules_op num_op_val[] = { RO_LT, RO_LE, RO_GT, RO_GE,
	RO_EQ };

/* numop NUMBER (sizes may end in k, m, g). */
static void
parse_numop(struct parser *ps, struct rules_node *node, uint64_t max)
{
	const char *error = NULL;
	int i;

	for (i = 0; num_ops[i] != NULL; i++)
		if (ps->type == T_CMP && strcmp(ps->text, num_ops[i]) == 0)
			break;
	if (num_ops[i] == NULL) {
		perr(ps, "expected a comparison (<, <=, >, >=, =)");
		return;
	}
	next(ps);
	node->op = num_op_val[i];
	if (ps->type != T_WORD ||
	    parse_size(ps->text, 0, max, &node->num, &error) < 0) {
		perr(ps, "expected a number up to %llu",
		    (unsigned long long)max);
		return;
	}
	next(ps);
}

static int parse_expr(struct parser *ps, struct rules_rule *r);

static int
parse_test(struct parser *ps, struct rules_rule *r)
{
	static const char *const subjects[] = { "header", "body", "attachment",
		"size", "sender", "recipient", "direction", "authenticated",
		"auth-user", "spf", "dmarc", "spam", "virus", "ip", "true",
		NULL };
	static const char *const att[] = { "name", "type", "size", NULL };
	static const char *const dirs[] = { "outbound", "inbound", NULL };
	static const char *const spf[] = { "none", "neutral", "pass", "fail",
		"softfail", "temperror", "permerror", NULL };
	static const char *const dmarc[] = { "none", "pass", "fail",
		"temperror", "permerror", NULL };
	static const char *const is[] = { "is", NULL };
	static const char *const in[] = { "in", NULL };
	static const char *const score[] = { "score", NULL };
	const char *error = NULL;
	struct rules_node *node;
	int n, i, k;

	if ((i = expect_word(ps, subjects, "a condition")) < 0)
		return -1;
	n = new_node(r, RN_TEST);
	switch (i) {
	case 0:
		r->nodes[n].subject = RS_HEADER;
		if ((r->nodes[n].arg = expect_string(ps, "header name")) ==
		    NULL)
			return -1;
		if (is_word(ps, "exists")) {
			r->nodes[n].op = RO_EXISTS;
			next(ps);
		} else
			parse_strop(ps, r, n);
		break;
	case 1:
		r->nodes[n].subject = RS_BODY;
		parse_strop(ps, r, n);
		break;
	case 2:
		if ((k = expect_word(ps, att, "name, type or size")) < 0)
			return -1;
		if (k == 2) {
			r->nodes[n].subject = RS_ATT_SIZE;
			parse_numop(ps, &r->nodes[n], UINT64_MAX / 2);
		} else {
			r->nodes[n].subject = k == 0 ? RS_ATT_NAME :
			    RS_ATT_TYPE;
			parse_strop(ps, r, n);
		}
		break;
	case 3:
		r->nodes[n].subject = RS_SIZE;
		parse_numop(ps, &r->nodes[n], UINT64_MAX / 2);
		break;
	case 4:
	case 5:
		r->nodes[n].subject = i == 4 ? RS_SENDER : RS_RECIPIENT;
		parse_strop(ps, r, n);
		break;
	case 6:
		r->nodes[n].subject = RS_DIRECTION;
		if (expect_word(ps, is, "is") < 0 ||
		    (k = expect_word(ps, dirs, "inbound or outbound")) < 0)
			return -1;
		r->nodes[n].num = (uint64_t)k;
		break;
	case 7:
		r->nodes[n].subject = RS_AUTH;
		break;
	case 8:
		r->nodes[n].subject = RS_AUTH_USER;
		parse_strop(ps, r, n);
		break;
	case 9:
	case 10:
		r->nodes[n].subject = i == 9 ? RS_SPF : RS_DMARC;
		if (expect_word(ps, is, "is") < 0)
			return -1;
		if (ps->type == T_WORD)
			r->nodes[n].value = xstrdup(ps->text);
		if (expect_word(ps, i == 9 ? spf : dmarc, i == 9 ?
		    "an SPF result (none, neutral, pass, fail, softfail, "
		    "temperror, permerror)" : "a DMARC result (none, pass, "
		    "fail, temperror, permerror)") < 0)
			return -1;
		ascii_lower(r->nodes[n].value);
		r->nodes[n].op = RO_IS;
		break;
	case 11:
		r->nodes[n].subject = RS_SPAM;
		if (expect_word(ps, score, "score") < 0)
			return -1;
		parse_numop(ps, &r->nodes[n], 100);
		break;
	case 12:
		r->nodes[n].subject = RS_VIRUS;
		r->nodes[n].op = RO_EXISTS;
		if (ps->type == T_WORD && (is_word(ps, "is") ||
		    is_word(ps, "contains") || is_word(ps, "matches") ||
		    is_word(ps, "like")))
			parse_strop(ps, r, n);
		break;
	case 13:
		r->nodes[n].subject = RS_IP;
		r->nodes[n].op = RO_IN;
		if (expect_word(ps, in, "in") < 0)
			return -1;
		if (ps->type != T_STRING) {
			perr(ps, "expected a quoted list of networks");
			return -1;
		}
		node = &r->nodes[n];
		node->cidrs = xcalloc(RULES_CIDRS_MAX, sizeof(*node->cidrs));
		if (cidr_parse_list(ps->text, node->cidrs, RULES_CIDRS_MAX,
		    &node->ncidrs, &error) < 0 || node->ncidrs == 0) {
			perr(ps, "bad network list \"%.60s\": %s", ps->text,
			    error != NULL ? error : "empty");
			return -1;
		}
		next(ps);
		break;
	default:
		r->nodes[n].subject = RS_ANY;
		break;
	}
	if (r->nnodes > RULES_CONDS_MAX * 2) {
		perr(ps, "more than %d tests in one rule", RULES_CONDS_MAX);
		return -1;
	}
	return ps->failed ? -1 : n;
}

static int
parse_factor(struct parser *ps, struct rules_rule *r)
{
	int n, c;

	if (++ps->depth > RULES_DEPTH_MAX) {
		perr(ps, "conditions nested deeper than %d",
		    RULES_DEPTH_MAX);
		return -1;
	}
	if (is_word(ps, "not")) {
		next(ps);
		if ((c = parse_factor(ps, r)) < 0)
			return -1;
		n = new_node(r, RN_NOT);
		r->nodes[n].a = c;
	} else if (ps->type == T_LPAREN) {
		next(ps);
		if ((n = parse_expr(ps, r)) < 0)
			return -1;
		if (ps->type != T_RPAREN) {
			perr(ps, "expected \")\"");
			return -1;
		}
		next(ps);
	} else
		n = parse_test(ps, r);
	ps->depth--;
	return n;
}

static int
parse_binary(struct parser *ps, struct rules_rule *r, bool is_or)
{
	int a, b, n;

	a = is_or ? parse_binary(ps, r, false) : parse_factor(ps, r);
	while (a >= 0 && is_word(ps, is_or ? "or" : "and")) {
		next(ps);
		b = is_or ? parse_binary(ps, r, false) : parse_factor(ps, r);
		if (b < 0)
			return -1;
		n = new_node(r, is_or ? RN_OR : RN_AND);
		r->nodes[n].a = a;
		r->nodes[n].b = b;
		a = n;
	}
	return a;
}

static int
parse_expr(struct parser *ps, struct rules_rule *r)
{
	return parse_binary(ps, r, true);
}

static bool
valid_header_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 76)
		return false;
	for (; *s != '\0'; s++)
		if (*s <= 32 || *s >= 127 || *s == ':')
			return false;
	return true;
}

static bool
valid_addr(const char *s)
{
	const char *at = strchr(s, '@');

	if (at == NULL || at == s || at[1] == '\0' || strlen(s) > 254)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 32 || *s == '<' || *s == '>' ||
		    *s == ',' || *s == '"' || (unsigned char)*s == 127)
			return false;
	return true;
}

/* "4.7.1 text" after a 4xx, "5.x.y text" after a 5xx (RFC 3463: class,
 * then subject and detail of 1 to 3 digits). */
static bool
valid_reply(int code, const char *t)
{
	int i, k;

	if (t[0] != '0' + code / 100 || t[1] != '.')
		return false;
	t += 2;
	for (k = 0; k < 2; k++) {
		for (i = 0; i < 3 && *t >= '0' && *t <= '9'; i++)
			t++;
		if (i == 0 || (k == 0 && *t++ != '.'))
			return false;
	}
	return *t == ' ' && t[1] != '\0';
}

static int
parse_action(struct parser *ps, struct rules_rule *r)
{
	static const char *const actions[] = { "accept", "reject", "discard",
		"quarantine", "add-header", "remove-header", "replace-header",
		"tag-subject", "copy", "redirect", "strip-attachments",
		"notify", "stop", NULL };
	static const enum rules_action_type action_val[] = { RA_ACCEPT,
		RA_REJECT, RA_DISCARD, RA_QUARANTINE, RA_ADD_HEADER,
		RA_REMOVE_HEADER, RA_REPLACE_HEADER, RA_TAG_SUBJECT, RA_COPY,
		RA_REDIRECT, RA_STRIP, RA_NOTIFY_ADMIN, RA_STOP };
	static const char *const whom[] = { "admin", "sender", NULL };
	struct rules_action *a;
	uint64_t code;
	const char *error = NULL;
	int i, k;

	if (r->nactions >= RULES_ACTIONS_MAX) {
		perr(ps, "more than %d actions in one rule",
		    RULES_ACTIONS_MAX);
		return -1;
	}
	if ((i = expect_word(ps, actions, "an action")) < 0)
		return -1;
	a = &r->actions[r->nactions++];
	a->type = action_val[i];
	switch (a->type) {
	case RA_REJECT:
		if (ps->type != T_WORD ||
		    parse_u64(ps->text, 400, 599, &code, &error) < 0) {
			perr(ps, "expected a 4xx or 5xx reply code");
			return -1;
		}
		a->code = (int)code;
		next(ps);
		if ((a->text = expect_string(ps, "reply text")) == NULL)
			return -1;
		if (!valid_reply(a->code, a->text)) {
			perr_str(ps, "the reply text must start with an RFC 3463 "
			    "enhanced code of the same class (\"%d.7.1 "
			    "...\")", a->code / 100);
			return -1;
		}
		break;
	case RA_QUARANTINE:
		if (ps->type == T_STRING)
			a->text = expect_string(ps, "reason");
		break;
	case RA_ADD_HEADER:
	case RA_REMOVE_HEADER:
	case RA_REPLACE_HEADER:
		if ((a->name = expect_string(ps, "header name")) == NULL)
			return -1;
		if (!valid_header_name(a->name)) {
			perr_str(ps, "bad header name \"%.60s\"", a->name);
			return -1;
		}
		if (a->type != RA_REMOVE_HEADER &&
		    (a->text = expect_string(ps, "header value")) == NULL)
			return -1;
		break;
	case RA_TAG_SUBJECT:
		if ((a->text = expect_string(ps, "tag")) == NULL)
			return -1;
		if (a->text[0] == '\0') {
			perr_str(ps, "empty subject tag");
			return -1;
		}
		break;
	case RA_COPY:
	case RA_REDIRECT:
		do {
			if (a->naddrs >= RULES_ADDRS_MAX) {
				perr(ps, "more than %d addresses",
				    RULES_ADDRS_MAX);
				return -1;
			}
			if ((a->addrs[a->naddrs] = expect_string(ps,
			    "address")) == NULL)
				return -1;
			if (!valid_addr(a->addrs[a->naddrs++])) {
				perr_str(ps, "bad address \"%.60s\"",
				    a->addrs[a->naddrs - 1]);
				return -1;
			}
		} while (ps->type == T_STRING);
		break;
	case RA_STRIP:
		if (ps->type == T_STRING)
			a->text = expect_string(ps, "file name pattern");
		break;
	case RA_NOTIFY_ADMIN:	/* "notify" */
		if ((k = expect_word(ps, whom, "admin or sender")) < 0)
			return -1;
		a->type = k == 0 ? RA_NOTIFY_ADMIN : RA_NOTIFY_SENDER;
		if (ps->type == T_STRING)
			a->text = expect_string(ps, "text");
		break;
	default:
		break;
	}
	return ps->failed ? -1 : 0;
}

static int
parse_rule(struct parser *ps, struct rules *rs)
{
	struct rules_rule *r;
	unsigned i;

	if (!is_word(ps, "rule")) {
		perr(ps, "expected \"rule\"");
		return -1;
	}
	if (rs->nrules >= RULES_MAX) {
		perr(ps, "more than %d rules", RULES_MAX);
		return -1;
	}
	rs->rules = xreallocarray(rs->rules, rs->nrules + 1,
	    sizeof(*rs->rules));
	r = &rs->rules[rs->nrules++];
	memset(r, 0, sizeof(*r));
	r->root = -1;
	r->line = ps->tline;
	next(ps);
	if (ps->type != T_STRING || ps->text[0] == '\0' ||
	    strlen(ps->text) > RULES_NAME_MAX) {
		perr(ps, "expected the rule's name (a quoted string of 1 to "
		    "%d characters)", RULES_NAME_MAX);
		return -1;
	}
	for (i = 0; ps->text[i] != '\0'; i++)
		if ((unsigned char)ps->text[i] <= 32 || ps->text[i] == '"' ||
		    (unsigned char)ps->text[i] == 127) {
			perr(ps, "a rule's name has no blanks or quotes");
			return -1;
		}
	for (i = 0; i + 1 < rs->nrules; i++)
		if (strcmp(rs->rules[i].name, ps->text) == 0) {
			perr(ps, "rule \"%s\" is already defined on line %u",
			    ps->text, rs->rules[i].line);
			return -1;
		}
	moat_strlcpy(r->name, ps->text, sizeof(r->name));
	next(ps);
	if (is_word(ps, "if")) {
		next(ps);
		ps->depth = 0;
		if ((r->root = parse_expr(ps, r)) < 0)
			return -1;
	}
	if (!is_word(ps, "then")) {
		perr(ps, "expected \"then\"%s", r->root < 0 ? " or \"if\"" :
		    ", \"and\" or \"or\"");
		return -1;
	}
	next(ps);
	for (;;) {
		if (parse_action(ps, r) < 0)
			return -1;
		if (ps->type != T_SEMI)
			break;
		next(ps);
		if (ps->type == T_EOF || is_word(ps, "rule"))
			break;
	}
	if (ps->type != T_EOF && !is_word(ps, "rule")) {
		perr(ps, "expected \";\" or the next rule");
		return -1;
	}
	return 0;
}

int
rules_parse(const char *text, size_t len, const char *fname,
    struct rules **r_r, char *err, size_t errlen)
{
	struct parser ps;
	struct rules *rs;

	memset(&ps, 0, sizeof(ps));
	ps.p = text;
	ps.end = text + len;
	ps.line = 1;
	ps.fname = fname;
	ps.err = err;
	ps.errlen = errlen;
	rs = xcalloc(1, sizeof(*rs));
	if (len > RULES_FILE_MAX) {
		ps.tline = 1;
		perr(&ps, "file larger than %d octets", RULES_FILE_MAX);
	}
	next(&ps);
	while (!ps.failed && ps.type != T_EOF)
		if (parse_rule(&ps, rs) < 0)
			break;
	if (ps.failed) {
		rules_free(rs);
		*r_r = NULL;
		return -1;
	}
	*r_r = rs;
	return 0;
}

int
rules_load(const char *path, struct rules **r_r, char *err, size_t errlen)
{
	struct stat st;
	char *text;
	ssize_t n;
	size_t got = 0;
	int fd, r;

	*r_r = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > RULES_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most %d "
		    "octets", path, RULES_FILE_MAX);
		close(fd);
		return -1;
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		snprintf(err, errlen, "%s: short read", path);
		free(text);
		return -1;
	}
	r = rules_parse(text, got, path, r_r, err, errlen);
	free(text);
	return r;
}
