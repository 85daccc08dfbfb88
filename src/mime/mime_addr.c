/* mime_addr: RFC 5322 address lists (with the obsolete syntax of section
 * 4.4: routes, CFWS around dots, missing parts) into RFC 3501 ENVELOPE
 * address entries. The value is split into tokens first, then:
 *
 *   address-list = address *("," address)
 *   address      = mailbox / group
 *   group        = display-name ":" [mailbox-list] ";"
 *   mailbox      = name-addr / addr-spec
 *   name-addr    = [display-name] "<" [obs-route] addr-spec ">"
 *   addr-spec    = local-part "@" domain
 *
 * Anything unexpected is skipped up to the next ','. */
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "mime_private.h"
#include "xalloc.h"

enum tok_type {
	TOK_WORD,		/* atom or quoted-string (unquoted) */
	TOK_DLIT,		/* [domain literal] */
	TOK_SPECIAL,		/* one of < > @ , ; : . */
};

struct tok {
	enum tok_type	 type;
	const uint8_t	*p;
	size_t		 len;
	bool		 space;		/* CFWS before it */
	const uint8_t	*comment;	/* first comment before it, or NULL */
	size_t		 comment_len;
};

struct toks {
	struct tok	*t;
	size_t		 n, cap;
	uint8_t		*text;		/* unquoted strings and comments */
	size_t		 tlen;
};

static bool
is_special(uint8_t c)
{
	return c == '<' || c == '>' || c == '@' || c == ',' || c == ';' ||
	    c == ':' || c == '.' || c == '"' || c == '(' || c == ')' ||
	    c == '[' || c == ']' || c == '\\';
}

static struct tok *
tok_add(struct toks *ts, enum tok_type type)
{
	struct tok *t;

	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 32;
		ts->t = xreallocarray(ts->t, ts->cap, sizeof(*ts->t));
	}
	t = &ts->t[ts->n++];
	memset(t, 0, sizeof(*t));
	t->type = type;
	return t;
}

/* Copy a quoted-string, comment or domain literal starting at v[*i]
 * (the opening character) into ts->text, unescaping quoted-pairs; open
 * is the opening and close the closing character. Nested comments are
 * copied with their parentheses. */
static const uint8_t *
copy_quoted(struct toks *ts, const uint8_t *v, size_t len, size_t *i,
    uint8_t open, uint8_t close, size_t *len_r)
{
	const uint8_t *start = ts->text + ts->tlen;
	unsigned depth = 1;

	(*i)++;
	while (*i < len) {
		uint8_t c = v[*i];

		if (c == '\\' && *i + 1 < len) {
			(*i)++;
			c = v[*i];
		} else if (c == close && --depth == 0) {
			(*i)++;
			break;
		} else if (c == open && open != close)
			depth++;
		if (c != '\r' && c != '\n')
			ts->text[ts->tlen++] = c;
		(*i)++;
	}
	*len_r = (size_t)(ts->text + ts->tlen - start);
	return start;
}

static void
tokenize(struct toks *ts, const uint8_t *v, size_t len)
{
	const uint8_t *cmt = NULL, *q;
	size_t i = 0, cl = 0, s, ql;
	bool space = false;
	struct tok *t;

	ts->text = xmalloc(2 * len + 2);	/* "[" and "]" added per literal */
	while (i < len) {
		if (mime_is_space(v[i]) || v[i] == '\0') {
			space = true;
			i++;
			continue;
		}
		if (v[i] == '(') {
			q = copy_quoted(ts, v, len, &i, '(', ')', &ql);
			if (cmt == NULL) {
				cmt = q;
				cl = ql;
			}
			space = true;
			continue;
		}
		if (v[i] == '"') {
			t = tok_add(ts, TOK_WORD);
			t->p = copy_quoted(ts, v, len, &i, '"', '"', &t->len);
		} else if (v[i] == '[') {
			t = tok_add(ts, TOK_DLIT);
			s = ts->tlen;
			ts->text[ts->tlen++] = '[';
			(void)copy_quoted(ts, v, len, &i, '[', ']', &ql);
			ts->text[ts->tlen++] = ']';
			t->p = ts->text + s;
			t->len = ts->tlen - s;
		} else if (is_special(v[i])) {
			t = tok_add(ts, TOK_SPECIAL);
			t->p = v + i++;
			t->len = 1;
		} else {
			t = tok_add(ts, TOK_WORD);
			s = i;
			while (i < len && !mime_is_space(v[i]) &&
			    !is_special(v[i]) && v[i] != '\0')
				i++;
			t->p = v + s;
			t->len = i - s;
		}
		t->space = space;
		t->comment = cmt;
		t->comment_len = cl;
		space = false;
		cmt = NULL;
	}
	/* a trailing comment ("user@host (Name)") goes on an end marker */
	t = tok_add(ts, TOK_SPECIAL);
	t->p = (const uint8_t *)",";
	t->len = 1;
	t->comment = cmt;
	t->comment_len = cl;
}

static bool
is_sp(const struct tok *t, char c)
{
	return t->type == TOK_SPECIAL && t->p[0] == (uint8_t)c;
}

/* Join tokens [a, b): with_space keeps one blank where there was CFWS. */
static char *
join(const struct toks *ts, size_t a, size_t b, bool with_space)
{
	size_t i, n = 0;
	char *s;

	for (i = a; i < b; i++)
		n += ts->t[i].len + 1;
	s = xmalloc(n + 1);
	n = 0;
	for (i = a; i < b; i++) {
		if (with_space && ts->t[i].space && i > a)
			s[n++] = ' ';
		if (ts->t[i].len > 0)
			memcpy(s + n, ts->t[i].p, ts->t[i].len);
		n += ts->t[i].len;
	}
	s[n] = '\0';
	return s;
}

struct alist {
	struct mime_addr	*head, **tail;
	size_t			 n;
};

static struct mime_addr *
alist_add(struct alist *l)
{
	struct mime_addr *a = xcalloc(1, sizeof(*a));

	*l->tail = a;
	l->tail = &a->next;
	l->n++;
	return a;
}

/* Tokens that may appear in a local part, domain or phrase. */
static bool
is_wordish(const struct tok *t)
{
	return t->type != TOK_SPECIAL || t->p[0] == '.';
}

/* local-part "@" domain in [a, b): fills a->mailbox and a->host. */
static void
addr_spec(const struct toks *ts, size_t a, size_t b, struct mime_addr *ad)
{
	size_t at;

	for (at = a; at < b && !is_sp(&ts->t[at], '@'); at++)
		;
	ad->mailbox = at > a ? join(ts, a, at, false) :
	    xstrdup("MISSING_MAILBOX");
	ad->host = at + 1 < b ? join(ts, at + 1, b, false) :
	    xstrdup("MISSING_DOMAIN");
}

/* A mailbox at *pos; stops before ',' ';' or the end. Returns false
 * when there was none (the offending token is skipped). */
static bool
mailbox(const struct toks *ts, size_t *pos, struct alist *l, bool in_group)
{
	size_t i = *pos, p0 = *pos, lt, r, e;
	struct mime_addr *ad;

	while (i < ts->n && is_wordish(&ts->t[i]))
		i++;
	if (i < ts->n && is_sp(&ts->t[i], '<')) {
		lt = i;
		/* to '>' (a route holds ','), else to ',' when unclosed */
		for (e = lt + 1; e < ts->n && !is_sp(&ts->t[e], '>') &&
		    !is_sp(&ts->t[e], ';') && !is_sp(&ts->t[e], '<'); e++)
			;
		if (e >= ts->n || !is_sp(&ts->t[e], '>'))
			for (e = lt + 1; e < ts->n &&
			    !is_sp(&ts->t[e], ',') && !is_sp(&ts->t[e], ';') &&
			    !is_sp(&ts->t[e], '<'); e++)
				;
		if (e == lt + 1 && lt == p0) {
			/* "<>" or a stray '<': nothing to show */
			*pos = e < ts->n && is_sp(&ts->t[e], '>') ? e + 1 : e;
			return false;
		}
		ad = alist_add(l);
		if (lt > p0)
			ad->name = join(ts, p0, lt, true);
		r = lt + 1;
		/* obs-route: "@a,@b:" */
		if (r < e && is_sp(&ts->t[r], '@')) {
			size_t k;

			for (k = r; k < e && !is_sp(&ts->t[k], ':'); k++)
				;
			if (k < e) {
				ad->route = join(ts, r, k, false);
				r = k + 1;
			}
		}
		addr_spec(ts, r, e, ad);
		i = e < ts->n && is_sp(&ts->t[e], '>') ? e + 1 : e;
	} else if (i < ts->n && is_sp(&ts->t[i], '@')) {
		for (e = i + 1; e < ts->n && is_wordish(&ts->t[e]); e++)
			;
		ad = alist_add(l);
		addr_spec(ts, p0, e, ad);
		/* "user@host (Name)": the comment names the mailbox */
		if (e < ts->n && ts->t[e].comment != NULL) {
			ad->name = xmalloc(ts->t[e].comment_len + 1);
			memcpy(ad->name, ts->t[e].comment,
			    ts->t[e].comment_len);
			ad->name[ts->t[e].comment_len] = '\0';
		}
		i = e;
	} else if (i > p0 && (i >= ts->n || is_sp(&ts->t[i], ',') ||
	    is_sp(&ts->t[i], ';') || (is_sp(&ts->t[i], ':') && in_group))) {
		/* a bare local part */
		ad = alist_add(l);
		ad->mailbox = join(ts, p0, i, false);
		ad->host = xstrdup("MISSING_DOMAIN");
	} else {
		*pos = i < ts->n ? i + 1 : i;
		return false;
	}
	*pos = i;
	return true;
}

struct mime_addr *
mime_addr_parse(const uint8_t *value, size_t len)
{
	struct toks ts;
	struct alist l;
	struct mime_addr *g;
	size_t pos = 0, i;

	memset(&ts, 0, sizeof(ts));
	l.head = NULL;
	l.tail = &l.head;
	l.n = 0;
	tokenize(&ts, value, len);
	while (pos < ts.n && l.n < MIME_ADDRS_MAX) {
		if (is_sp(&ts.t[pos], ',') || is_sp(&ts.t[pos], ';')) {
			pos++;
			continue;
		}
		for (i = pos; i < ts.n && is_wordish(&ts.t[i]); i++)
			;
		if (i < ts.n && is_sp(&ts.t[i], ':')) {
			/* group: start entry, members, end entry */
			g = alist_add(&l);
			g->mailbox = join(&ts, pos, i, true);
			pos = i + 1;
			while (pos < ts.n && !is_sp(&ts.t[pos], ';') &&
			    l.n < MIME_ADDRS_MAX) {
				if (is_sp(&ts.t[pos], ',')) {
					pos++;
					continue;
				}
				(void)mailbox(&ts, &pos, &l, true);
			}
			(void)alist_add(&l);
			if (pos < ts.n)
				pos++;
			continue;
		}
		(void)mailbox(&ts, &pos, &l, false);
	}
	free(ts.t);
	free(ts.text);
	return l.head;
}

void
mime_addr_free(struct mime_addr **list)
{
	struct mime_addr *a, *next;

	for (a = *list; a != NULL; a = next) {
		next = a->next;
		free(a->name);
		free(a->route);
		free(a->mailbox);
		free(a->host);
		free(a);
	}
	*list = NULL;
}
