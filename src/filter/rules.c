/* rules: evaluating parsed content-filter rules against one message
 * (pure, for a pool thread) and the edits their actions make to the
 * message text (header fields, subject tag, attachment stripping). */
#include "rules.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "util.h"
#include "xalloc.h"

#define RULES_NOTE_NAME_MAX	200	/* file name quoted in a strip note */

struct eval {
	const struct rules_input	*in;
	struct buf			 body;
	bool				 body_done;
	struct buf			 hdr;
};

static bool
str_test(const struct rules_node *n, const char *s)
{
	switch (n->op) {
	case RO_IS:
		return ascii_ieq(s, n->value);
	case RO_CONTAINS:
		return strcasestr(s, n->value) != NULL;
	case RO_MATCHES:
		return n->re_ok && regexec(&n->re, s, 0, NULL, 0) == 0;
	case RO_LIKE:
		return fnmatch(n->value, s, FNM_CASEFOLD) == 0;
	default:
		return false;
	}
}

static bool
num_test(const struct rules_node *n, uint64_t v)
{
	switch (n->op) {
	case RO_LT:
		return v < n->num;
	case RO_LE:
		return v <= n->num;
	case RO_GT:
		return v > n->num;
	case RO_GE:
		return v >= n->num;
	case RO_EQ:
		return v == n->num;
	default:
		return false;
	}
}

/* One header line from p: its end including continuation lines. */
static size_t
field_end(const uint8_t *p, size_t i, size_t len)
{
	for (;;) {
		while (i < len && p[i] != '\n')
			i++;
		if (i < len)
			i++;
		if (i >= len || (p[i] != ' ' && p[i] != '\t'))
			return i;
	}
}

static bool
blank_line(const uint8_t *p, size_t i, size_t len)
{
	return i >= len || p[i] == '\n' ||
	    (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n');
}

/* Is the field at p[i..] called name? *val_r gets the value's start. */
static bool
field_is(const uint8_t *p, size_t i, size_t end, const char *name,
    size_t *val_r)
{
	size_t n = strlen(name);

	if (end - i <= n || p[i + n] != ':' ||
	    !ascii_nieq((const char *)p + i, name, n))
		return false;
	i += n + 1;
	while (i < end && (p[i] == ' ' || p[i] == '\t'))
		i++;
	*val_r = i;
	return true;
}

static bool
header_test(struct eval *ev, const struct rules_node *n)
{
	const uint8_t *p = ev->in->msg;
	size_t len = ev->in->len, i = 0, end, val, vend;
	const char *s;

	while (!blank_line(p, i, len)) {
		end = field_end(p, i, len);
		if (field_is(p, i, end, n->arg, &val)) {
			if (n->op == RO_EXISTS)
				return true;
			vend = end;
			while (vend > val && (p[vend - 1] == '\n' ||
			    p[vend - 1] == '\r'))
				vend--;
			buf_reset(&ev->hdr);
			(void)mime_header_decode(p + val, vend - val, &ev->hdr);
			if (buf_cstr(&ev->hdr, &s) == 0 && str_test(n, s))
				return true;
		}
		i = end;
	}
	return false;
}

static void
body_text(struct eval *ev, const struct mime_message *m,
    const struct mime_part *part)
{
	const struct mime_part *c;

	if (part->children != NULL) {
		for (c = part->children; c != NULL; c = c->next)
			body_text(ev, m, c);
		return;
	}
	if (part->disposition != NULL &&
	    strcmp(part->disposition, "attachment") == 0)
		return;
	if (part->type != NULL && strcmp(part->type, "text") == 0 &&
	    ev->body.len < RULES_BODY_MAX) {
		(void)mime_part_text(m, part, &ev->body);
		(void)buf_append(&ev->body, "\n", 1);
	}
}

static bool
body_test(struct eval *ev, const struct rules_node *n)
{
	struct mime_message *m;
	const char *s;

	if (!ev->body_done) {
		ev->body_done = true;
		m = mime_parse(ev->in->msg, ev->in->len);
		body_text(ev, m, m->root);
		mime_message_free(&m);
	}
	if (buf_cstr(&ev->body, &s) < 0) {
		/* Full: search what fits (drop the last octet for NUL). */
		ev->body.len--;
		if (buf_cstr(&ev->body, &s) < 0)
			return false;
	}
	return str_test(n, s);
}

static bool
test(struct eval *ev, const struct rules_node *n)
{
	const struct rules_input *in = ev->in;
	size_t i;

	switch (n->subject) {
	case RS_HEADER:
		return header_test(ev, n);
	case RS_BODY:
		return body_test(ev, n);
	case RS_ATT_NAME:
	case RS_ATT_TYPE:
	case RS_ATT_SIZE:
		for (i = 0; i < in->nparts; i++) {
			const struct rules_part *pt = &in->parts[i];

			if ((n->subject == RS_ATT_NAME && pt->name[0] != '\0' &&
			    str_test(n, pt->name)) ||
			    (n->subject == RS_ATT_TYPE && ((pt->type[0] !=
			    '\0' && str_test(n, pt->type)) ||
			    (pt->detected[0] != '\0' &&
			    str_test(n, pt->detected)))) ||
			    (n->subject == RS_ATT_SIZE &&
			    num_test(n, pt->size)))
				return true;
		}
		return false;
	case RS_SIZE:
		return num_test(n, in->size);
	case RS_SENDER:
		return str_test(n, in->sender);
	case RS_RECIPIENT:
		for (i = 0; i < in->nrcpts; i++)
			if (str_test(n, in->rcpts[i]))
				return true;
		return false;
	case RS_DIRECTION:
		return in->inbound == (n->num == 1);
	case RS_AUTH:
		return in->authenticated;
	case RS_AUTH_USER:
		return in->authenticated && str_test(n, in->auth_user);
	case RS_SPF:
		return in->spf[0] != '\0' && ascii_ieq(in->spf, n->value);
	case RS_DMARC:
		return in->dmarc[0] != '\0' && ascii_ieq(in->dmarc, n->value);
	case RS_SPAM:
		return in->spam_scored && num_test(n,
		    (uint64_t)(in->spam_score * 100.0 + 0.5));
	case RS_VIRUS:
		if (in->virus[0] == '\0')
			return false;
		return n->op == RO_EXISTS || str_test(n, in->virus);
	case RS_IP:
		return cidr_match_any(n->cidrs, n->ncidrs, in->ip);
	case RS_ANY:
		return true;
	}
	return false;
}

static bool
eval_node(struct eval *ev, const struct rules_rule *r, int i)
{
	const struct rules_node *n;

	/* Children always come before their parent (parsed first), so
	 * the recursion depth is bounded by the parse depth. */
	if (i < 0 || (unsigned)i >= r->nnodes)
		return false;
	n = &r->nodes[i];
	switch (n->type) {
	case RN_TEST:
		return test(ev, n);
	case RN_AND:
		return eval_node(ev, r, n->a) && eval_node(ev, r, n->b);
	case RN_OR:
		return eval_node(ev, r, n->a) || eval_node(ev, r, n->b);
	case RN_NOT:
		return !eval_node(ev, r, n->a);
	}
	return false;
}

bool
rules_action_ends(enum rules_action_type t)
{
	return t == RA_ACCEPT || t == RA_REJECT || t == RA_DISCARD ||
	    t == RA_STOP;
}

const char *
rules_action_name(enum rules_action_type t)
{
	static const char *const names[] = { "accept", "reject", "discard",
		"quarantine", "add-header", "remove-header", "replace-header",
		"tag-subject", "copy", "redirect", "strip-attachments",
		"notify-admin", "notify-sender", "stop" };

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] :
	    "?";
}

void
rules_eval(const struct rules *r, const struct rules_input *in,
    struct rules_hits *hits)
{
	struct eval ev;
	unsigned i, k;
	bool end = false;

	memset(&ev, 0, sizeof(ev));
	ev.in = in;
	buf_init(&ev.body, RULES_BODY_MAX);
	buf_init(&ev.hdr, RULES_HEADER_MAX);
	hits->n = 0;
	for (i = 0; i < r->nrules && !end && hits->n < RULES_HITS_MAX; i++) {
		const struct rules_rule *rule = &r->rules[i];

		if (rule->root >= 0 && !eval_node(&ev, rule, rule->root))
			continue;
		hits->idx[hits->n++] = i;
		for (k = 0; k < rule->nactions; k++)
			if (rules_action_ends(rule->actions[k].type))
				end = true;
	}
	buf_deinit(&ev.body);
	buf_deinit(&ev.hdr);
}

void
rules_free(struct rules *r)
{
	unsigned i, k, a;

	if (r == NULL)
		return;
	for (i = 0; i < r->nrules; i++) {
		struct rules_rule *rule = &r->rules[i];

		for (k = 0; k < rule->nnodes; k++) {
			free(rule->nodes[k].arg);
			free(rule->nodes[k].value);
			free(rule->nodes[k].cidrs);
			if (rule->nodes[k].re_ok)
				regfree(&rule->nodes[k].re);
		}
		free(rule->nodes);
		for (k = 0; k < rule->nactions; k++) {
			free(rule->actions[k].text);
			free(rule->actions[k].name);
			for (a = 0; a < rule->actions[k].naddrs; a++)
				free(rule->actions[k].addrs[a]);
		}
	}
	free(r->rules);
	free(r);
}

/* Message edits. */

int
rules_header_add(struct buf *msg, size_t off, const char *name,
    const char *value)
{
	char line[RULES_STRING_MAX + 128];
	int n;

	n = snprintf(line, sizeof(line), "%s: %s\r\n", name, value);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return buf_insert(msg, off, line, (size_t)n);
}

int
rules_header_remove(struct buf *msg, size_t off, const char *name,
    unsigned *n_r)
{
	size_t i = off, end, val;
	unsigned n = 0;

	while (!blank_line(msg->data, i, msg->len)) {
		end = field_end(msg->data, i, msg->len);
		if (field_is(msg->data, i, end, name, &val)) {
			/* UNSAFE: cut [i, end) out; end <= len. */
			memmove(msg->data + i, msg->data + end,
			    msg->len - end);
			msg->len -= end - i;
			n++;
			continue;
		}
		i = end;
	}
	if (n_r != NULL)
		*n_r = n;
	return 0;
}

int
rules_header_replace(struct buf *msg, size_t off, const char *name,
    const char *value)
{
	char line[RULES_STRING_MAX + 128];
	size_t i = off, end, val, at = off;
	bool found = false;
	int n;

	/* Check the room first so that a failure leaves msg unchanged. */
	n = snprintf(line, sizeof(line), "%s: %s\r\n", name, value);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    (msg->max != 0 && msg->len + (size_t)n > msg->max))
		return -1;
	/* The new field where the first old one was (a reader sees the
	 * header in its order); no old one: at the top. */
	while (!found && !blank_line(msg->data, i, msg->len)) {
		end = field_end(msg->data, i, msg->len);
		if (field_is(msg->data, i, end, name, &val)) {
			at = i;
			found = true;
		}
		i = end;
	}
	(void)rules_header_remove(msg, off, name, NULL);
	return buf_insert(msg, at, line, (size_t)n);
}

int
rules_subject_tag(struct buf *msg, size_t off, const char *tag)
{
	size_t i = off, end, val, tl = strlen(tag);

	while (!blank_line(msg->data, i, msg->len)) {
		end = field_end(msg->data, i, msg->len);
		if (field_is(msg->data, i, end, "Subject", &val)) {
			if (end - val >= tl && ascii_nieq((const char *)
			    msg->data + val, tag, tl))
				return 0;	/* tagged already */
			if (buf_insert(msg, val, " ", 1) < 0)
				return -1;
			if (buf_insert(msg, val, tag, tl) < 0) {
				memmove(msg->data + val, msg->data + val + 1,
				    msg->len - val - 1);
				msg->len--;
				return -1;
			}
			return 0;
		}
		i = end;
	}
	return rules_header_add(msg, off, "Subject", tag);
}

struct strip_ctx {
	const char		*glob;
	const struct mime_part	*hits[RULES_ATTACH_STRIP_MAX];
	unsigned		 n;
};

static const char *
part_name(const struct mime_part *p)
{
	const struct mime_param *pr = mime_part_filename(p);

	return pr != NULL ? pr->value : NULL;
}

static void
strip_walk(struct strip_ctx *sc, const struct mime_part *p)
{
	const struct mime_part *c;
	const char *name;

	if (p->children != NULL) {
		/* message/rfc822 is one attachment as a whole. */
		if ((p->flags & MIME_PART_MESSAGE) == 0) {
			for (c = p->children; c != NULL; c = c->next)
				strip_walk(sc, c);
			return;
		}
	}
	/* A part of a multipart, or the message itself when its whole
	 * body is a file (a single-part message). */
	if ((p->parent != NULL &&
	    (p->parent->flags & MIME_PART_MULTIPART) == 0) ||
	    sc->n >= RULES_ATTACH_STRIP_MAX)
		return;
	name = part_name(p);
	if (name == NULL && (p->disposition == NULL ||
	    strcmp(p->disposition, "attachment") != 0))
		return;
	if (sc->glob != NULL && (name == NULL ||
	    fnmatch(sc->glob, name, FNM_CASEFOLD) != 0))
		return;
	sc->hits[sc->n++] = p;
}

/* The note that takes a removed file's place, its name made safe. */
static int
strip_note(struct buf *nb, const struct mime_part *p, const char *rule)
{
	char safe[RULES_NOTE_NAME_MAX + 1];
	const char *name = part_name(p);
	size_t k;

	if (name == NULL)
		name = "(no name)";
	for (k = 0; name[k] != '\0' && k < RULES_NOTE_NAME_MAX; k++)
		safe[k] = (unsigned char)name[k] < 32 || name[k] == '"' ||
		    name[k] == '\\' || name[k] == 127 ? '_' : name[k];
	safe[k] = '\0';
	return buf_printf(nb, "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Disposition: inline\r\n\r\nThe attachment \"%s\" was "
	    "removed by the content filter (rule %s).\r\n", safe, rule);
}

/* A single-part message that is a file: its header stays but for the
 * Content-* fields, which the note's replace; the body is the note. */
static int
strip_root(struct buf *nb, const uint8_t *msg, const struct mime_part *root,
    const char *rule)
{
	static const char *const drop[] = { "Content-Type",
		"Content-Transfer-Encoding", "Content-Disposition" };
	size_t i, k;

	for (i = 0; i < root->nheaders; i++) {
		const struct mime_header *h = &root->headers[i];
		bool keep = true;

		for (k = 0; k < sizeof(drop) / sizeof(drop[0]); k++)
			if (h->name_len == strlen(drop[k]) &&
			    ascii_nieq((const char *)h->name, drop[k],
			    h->name_len))
				keep = false;
		if (keep && buf_append(nb, msg + h->off, h->len) < 0)
			return -1;
	}
	return strip_note(nb, root, rule);
}

int
rules_strip(struct buf *msg, size_t off, const char *glob, const char *rule,
    unsigned *n_r)
{
	struct strip_ctx *sc;
	struct mime_message *m;
	struct buf nb;
	size_t pos, i;
	int r = 0;

	*n_r = 0;
	sc = xcalloc(1, sizeof(*sc));
	sc->glob = glob;
	m = mime_parse(msg->data + off, msg->len - off);
	strip_walk(sc, m->root);
	if (sc->n == 0)
		goto done;
	buf_init(&nb, msg->max);
	pos = 0;
	r = buf_append(&nb, msg->data, off);
	if (r == 0 && sc->hits[0] == m->root) {
		r = strip_root(&nb, msg->data + off, m->root, rule);
		pos = msg->len - off;
	}
	for (i = 0; i < sc->n && r == 0 && pos < msg->len - off; i++) {
		const struct mime_part *p = sc->hits[i];

		if (buf_append(&nb, msg->data + off + pos, p->hdr_off - pos)
		    < 0 || strip_note(&nb, p, rule) < 0)
			r = -1;
		pos = p->body_off + p->body_len;
	}
	if (r == 0)
		r = buf_append(&nb, msg->data + off + pos,
		    msg->len - off - pos);
	if (r < 0) {
		buf_deinit(&nb);
		goto done;
	}
	*n_r = sc->n;
	buf_deinit(msg);
	*msg = nb;
done:
	mime_message_free(&m);
	free(sc);
	return r;
}
