/* imap_sort: SORT and THREAD helpers (see imap_sort.h). No I/O; unit
 * tested in tests/unit/test_imap_sort.c. */
#include "imap_sort.h"

#include <stdlib.h>
#include <string.h>

#include "imap_view.h"
#include "xalloc.h"

static int
lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* i;ascii-casemap */
static int
casecmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)(a ? a : "");
	const unsigned char *y = (const unsigned char *)(b ? b : "");

	while (*x != '\0' && lc(*x) == lc(*y)) {
		x++;
		y++;
	}
	return lc(*x) - lc(*y);
}

static int
casecmp_n(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lc((unsigned char)a[i]) != lc((unsigned char)b[i]))
			return lc((unsigned char)a[i]) -
			    lc((unsigned char)b[i]);
	return 0;
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- base subject (RFC 5256 2.1) ---------------------------------------- */

/* subj-blob = "[" *BLOBCHAR "]" *WSP at s[i]: its length, or 0. */
static size_t
blob_len(const char *s, size_t i, size_t len)
{
	size_t j = i;

	if (j >= len || s[j] != '[')
		return 0;
	for (j++; j < len && s[j] != '[' && s[j] != ']'; j++)
		;
	if (j >= len || s[j] != ']')
		return 0;
	for (j++; j < len && is_wsp(s[j]); j++)
		;
	return j - i;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" at s[i]. */
static size_t
refwd_len(const char *s, size_t i, size_t len)
{
	size_t j = i;

	if (j + 2 <= len && lc(s[j]) == 'r' && lc(s[j + 1]) == 'e')
		j += 2;
	else if (j + 2 <= len && lc(s[j]) == 'f' && lc(s[j + 1]) == 'w') {
		j += 2;
		if (j < len && lc(s[j]) == 'd')
			j++;
	} else
		return 0;
	while (j < len && is_wsp(s[j]))
		j++;
	j += blob_len(s, j, len);
	if (j >= len || s[j] != ':')
		return 0;
	return j + 1 - i;
}

/* subj-leader = (*subj-blob subj-refwd) / WSP at s[i]. */
static size_t
leader_len(const char *s, size_t i, size_t len)
{
	size_t j = i, b, r;

	if (i < len && is_wsp(s[i]))
		return 1;
	while ((b = blob_len(s, j, len)) > 0)
		j += b;
	r = refwd_len(s, j, len);
	return r > 0 ? j + r - i : 0;
}

int
imap_base_subject(const char *subject, struct buf *out, bool *reply_r)
{
	char *s;
	size_t len = 0, i, start, end, n;
	bool changed;
	const char *p;

	*reply_r = false;
	/* (1) tabs and line breaks become spaces, runs of spaces one. */
	s = xmalloc(strlen(subject) + 1);
	for (p = subject; *p != '\0'; p++) {
		char c = *p == '\t' || *p == '\r' || *p == '\n' ? ' ' : *p;

		if (c == ' ' && len > 0 && s[len - 1] == ' ')
			continue;
		s[len++] = c;
	}
	start = 0;
	end = len;
	for (;;) {
		/* (2) subj-trailer = "(fwd)" / WSP, repeatedly */
		for (;;) {
			if (end > start && is_wsp(s[end - 1])) {
				end--;
			} else if (end - start >= 5 &&
			    casecmp_n(s + end - 5, "(fwd)", 5) == 0) {
				end -= 5;
				*reply_r = true;
			} else {
				break;
			}
		}
		/* (3)-(5) leaders and blobs */
		do {
			changed = false;
			while ((n = leader_len(s, start, end)) > 0) {
				if (!is_wsp(s[start]))
					*reply_r = true;
				start += n;
				changed = true;
			}
			n = blob_len(s, start, end);
			if (n > 0 && start + n < end) {
				start += n;
				changed = true;
			}
		} while (changed);
		/* (6) "[fwd:" ... "]" */
		if (end - start >= 6 && casecmp_n(s + start, "[fwd:", 5) == 0 &&
		    s[end - 1] == ']') {
			start += 5;
			end--;
			*reply_r = true;
			continue;
		}
		break;
	}
	buf_reset(out);
	i = buf_append(out, s + start, end - start) < 0 ? 1 : 0;
	free(s);
	if (i != 0)
		return -1;
	return buf_cstr(out, &p);
}

/* ---- dates --------------------------------------------------------------- */

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Up to maxd digits at *pp; -1 when there are none. */
static int
number(const char **pp, int maxd)
{
	const char *p = *pp;
	int v = 0, d = 0;

	while (is_digit(*p) && d < maxd) {
		v = v * 10 + (*p - '0');
		p++;
		d++;
	}
	*pp = p;
	return d == 0 ? -1 : v;
}

/* date-time = [ day-of-week "," ] day month year hour ":" minute
 * [ ":" second ] zone (RFC 5322 3.3; obsolete zones read as +0000). */
int64_t
imap_sort_date(const char *value)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	const char *p = value, *m;
	int day, mon = 0, year, hh, mm, ss = 0, zone = 0, k;

	if (p == NULL)
		return -1;
	if ((m = strchr(p, ',')) != NULL)
		p = m + 1;
	while (is_wsp(*p))
		p++;
	if ((day = number(&p, 2)) < 1 || day > 31)
		return -1;
	while (is_wsp(*p) || *p == '-')
		p++;
	for (k = 0; k < 12; k++)
		if (casecmp_n(p, months + 3 * k, 3) == 0)
			mon = k + 1;
	if (mon == 0)
		return -1;
	p += 3;
	while (is_wsp(*p) || *p == '-')
		p++;
	m = p;
	if ((year = number(&p, 4)) < 0)
		return -1;
	if (p - m == 2)
		year += year < 50 ? 2000 : 1900;	/* RFC 5322 4.3 */
	else if (p - m == 3)
		year += 1900;
	while (is_wsp(*p))
		p++;
	if ((hh = number(&p, 2)) < 0 || hh > 23 || *p++ != ':' ||
	    (mm = number(&p, 2)) < 0 || mm > 59)
		return -1;
	if (*p == ':') {
		p++;
		if ((ss = number(&p, 2)) < 0 || ss > 60)
			return -1;
	}
	while (is_wsp(*p))
		p++;
	if ((*p == '+' || *p == '-') && is_digit(p[1]) && is_digit(p[2]) &&
	    is_digit(p[3]) && is_digit(p[4])) {
		zone = ((p[1] - '0') * 10 + (p[2] - '0')) * 60 +
		    (p[3] - '0') * 10 + (p[4] - '0');
		if (*p == '-')
			zone = -zone;
	}
	return imap_days(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss -
	    (int64_t)zone * 60;
}

/* ---- SORT ---------------------------------------------------------------- */

static const struct imap_sort_criterion *sort_crit;
static size_t sort_ncrit;

static int
cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int
sort_cmp(const void *va, const void *vb)
{
	const struct imap_sort_msg *a = va, *b = vb;
	size_t i;
	int c = 0;

	for (i = 0; i < sort_ncrit; i++) {
		switch (sort_crit[i].key) {
		case IMAP_SORT_ARRIVAL:
			c = cmp_i64(a->arrival, b->arrival);
			break;
		case IMAP_SORT_CC:
			c = casecmp(a->cc, b->cc);
			break;
		case IMAP_SORT_DATE:
			c = cmp_i64(a->date, b->date);
			break;
		case IMAP_SORT_FROM:
			c = casecmp(a->from, b->from);
			break;
		case IMAP_SORT_SIZE:
			c = a->size < b->size ? -1 : a->size > b->size;
			break;
		case IMAP_SORT_SUBJECT:
			c = casecmp(a->subject, b->subject);
			break;
		case IMAP_SORT_TO:
			c = casecmp(a->to, b->to);
			break;
		}
		if (c != 0)
			return sort_crit[i].reverse ? -c : c;
	}
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

void
imap_sort_msgs(struct imap_sort_msg *msgs, size_t n,
    const struct imap_sort_criterion *crit, size_t ncrit)
{
	/* qsort has no context argument in C17; the loop is single
	 * threaded, so a file-scope pointer is safe. */
	sort_crit = crit;
	sort_ncrit = ncrit;
	if (n > 1)
		qsort(msgs, n, sizeof(*msgs), sort_cmp);
	sort_crit = NULL;
	sort_ncrit = 0;
}

/* Sent date, then sequence number (RFC 5256 2.2). */
static int
date_cmp(const struct imap_sort_msg *a, const struct imap_sort_msg *b)
{
	int c = cmp_i64(a->date, b->date);

	return c != 0 ? c : (a->seq < b->seq ? -1 : a->seq > b->seq);
}

/* ---- ORDEREDSUBJECT ------------------------------------------------------ */

static int
subj_date_cmp(const void *va, const void *vb)
{
	const struct imap_sort_msg *a = va, *b = vb;
	int c = casecmp(a->subject, b->subject);

	return c != 0 ? c : date_cmp(a, b);
}

struct osub {
	size_t	first, count;	/* a run of msgs */
};

static const struct imap_sort_msg *osub_msgs;

static int
osub_cmp(const void *va, const void *vb)
{
	const struct osub *a = va, *b = vb;

	return date_cmp(&osub_msgs[a->first], &osub_msgs[b->first]);
}

int
imap_thread_orderedsubject(struct imap_sort_msg *msgs, size_t n,
    struct buf *out)
{
	struct osub *t;
	size_t i, j, nt = 0;
	int r = 0;

	if (n == 0)
		return 0;
	qsort(msgs, n, sizeof(*msgs), subj_date_cmp);
	t = xcalloc(n, sizeof(*t));
	for (i = 0; i < n; i++) {
		if (i == 0 || casecmp(msgs[i].subject,
		    msgs[i - 1].subject) != 0)
			t[nt++].first = i;
		t[nt - 1].count++;
	}
	osub_msgs = msgs;
	qsort(t, nt, sizeof(*t), osub_cmp);
	osub_msgs = NULL;
	for (i = 0; i < nt && r == 0; i++) {
		r |= buf_printf(out, "(%u", msgs[t[i].first].num);
		if (t[i].count == 2)
			r |= buf_printf(out, " %u", msgs[t[i].first + 1].num);
		else if (t[i].count > 2)
			r |= buf_append(out, " ", 1);
		for (j = 1; t[i].count > 2 && j < t[i].count; j++)
			r |= buf_printf(out, "(%u)", msgs[t[i].first + j].num);
		r |= buf_append(out, ")", 1);
	}
	free(t);
	return r < 0 ? -1 : 0;
}

/* ---- REFERENCES ---------------------------------------------------------- */

#define NONE	((size_t)-1)

struct cont {
	const char	*id;	/* message ID (points into a message's field
				   or into ids), or NULL: unique */
	size_t		 idlen;
	size_t		 msg;	/* index into msgs, NONE for a dummy */
	size_t		 parent, child, next;
};

struct tctx {
	const struct imap_sort_msg	*msgs;
	size_t				 n;
	struct cont			*c;
	size_t				 nc, cap;
	size_t				*hash;	/* container indices */
	size_t				 hcap;
};

static uint64_t
id_hash(const char *p, size_t len)
{
	uint64_t h = UINT64_C(1469598103934665603);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

static size_t
cont_new(struct tctx *t, const char *id, size_t idlen)
{
	size_t k;

	if (t->nc == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->c = xreallocarray(t->c, t->cap, sizeof(*t->c));
	}
	k = t->nc++;
	t->c[k].id = id;
	t->c[k].idlen = idlen;
	t->c[k].msg = NONE;
	t->c[k].parent = t->c[k].child = t->c[k].next = NONE;
	return k;
}

/* The container of id (case-sensitive), created when create. */
static size_t
id_lookup(struct tctx *t, const char *id, size_t len, bool create)
{
	size_t h = (size_t)(id_hash(id, len) & (t->hcap - 1)), k;

	while ((k = t->hash[h]) != NONE) {
		if (t->c[k].idlen == len && memcmp(t->c[k].id, id, len) == 0)
			return k;
		h = (h + 1) & (t->hcap - 1);
	}
	if (!create)
		return NONE;
	k = cont_new(t, id, len);
	t->hash[h] = k;
	return k;
}

/* Is a an ancestor of b (or b itself)? */
static bool
is_ancestor(const struct tctx *t, size_t a, size_t b)
{
	size_t steps = 0;

	for (; b != NONE && steps <= t->nc; b = t->c[b].parent, steps++)
		if (b == a)
			return true;
	return false;
}

static void
unlink_child(struct tctx *t, size_t k)
{
	size_t p = t->c[k].parent, *pp;

	if (p == NONE)
		return;
	for (pp = &t->c[p].child; *pp != NONE; pp = &t->c[*pp].next)
		if (*pp == k) {
			*pp = t->c[k].next;
			break;
		}
	t->c[k].parent = NONE;
	t->c[k].next = NONE;
}

/* Append k to p's children. */
static void
link_child(struct tctx *t, size_t p, size_t k)
{
	size_t *pp;

	for (pp = &t->c[p].child; *pp != NONE; pp = &t->c[*pp].next)
		;
	*pp = k;
	t->c[k].parent = p;
	t->c[k].next = NONE;
}

/* The next "<...>" message ID in s after *pos. */
static bool
next_id(const char *s, size_t *pos, const char **id_r, size_t *len_r)
{
	const char *a, *b;

	if (s == NULL)
		return false;
	a = strchr(s + *pos, '<');
	if (a == NULL || (b = strchr(a, '>')) == NULL)
		return false;
	*id_r = a;
	*len_r = (size_t)(b - a) + 1;
	*pos = (size_t)(b - s) + 1;
	return *len_r > 2 && *len_r <= IMAP_THREAD_ID_MAX;
}

/* Step 1: containers and parent/child links from the references. */
static void
thread_link(struct tctx *t)
{
	size_t i, pos, len, prev, k, cur, nrefs;
	const char *id;

	for (i = 0; i < t->n; i++) {
		const struct imap_sort_msg *m = &t->msgs[i];

		pos = 0;
		cur = NONE;
		if (next_id(m->msgid, &pos, &id, &len)) {
			cur = id_lookup(t, id, len, true);
			if (t->c[cur].msg != NONE)
				cur = NONE;	/* a duplicate: unique one */
		}
		if (cur == NONE)
			cur = cont_new(t, NULL, 0);
		t->c[cur].msg = i;
		/* (A) link the references one to the next */
		pos = 0;
		prev = NONE;
		for (nrefs = 0; nrefs < IMAP_THREAD_REFS_MAX &&
		    next_id(m->refs, &pos, &id, &len); nrefs++) {
			k = id_lookup(t, id, len, true);
			if (prev != NONE && k != prev &&
			    t->c[k].parent == NONE &&
			    !is_ancestor(t, k, prev))
				link_child(t, prev, k);
			prev = k;
		}
		/* (B) the last reference is the parent */
		unlink_child(t, cur);
		if (prev != NONE && prev != cur && !is_ancestor(t, cur, prev))
			link_child(t, prev, cur);
	}
}

static const struct imap_sort_msg *
first_msg(const struct tctx *t, size_t k)
{
	if (t->c[k].msg != NONE)
		return &t->msgs[t->c[k].msg];
	if (t->c[k].child != NONE && t->c[t->c[k].child].msg != NONE)
		return &t->msgs[t->c[t->c[k].child].msg];
	return NULL;
}

static const struct tctx *cmp_ctx;

static int
cont_date_cmp(const void *va, const void *vb)
{
	const struct imap_sort_msg *a = first_msg(cmp_ctx, *(const size_t *)va);
	const struct imap_sort_msg *b = first_msg(cmp_ctx, *(const size_t *)vb);

	if (a == NULL || b == NULL)
		return (a == NULL) - (b == NULL);
	return date_cmp(a, b);
}

/* Sort a sibling list by date (the first child for a dummy); children
 * first (step 6). Returns the new head. */
static size_t
sort_siblings(struct tctx *t, size_t head, unsigned depth)
{
	size_t *v, n = 0, k, i;

	for (k = head; k != NONE; k = t->c[k].next) {
		if (depth < IMAP_THREAD_REFS_MAX * 4)
			t->c[k].child = sort_siblings(t, t->c[k].child,
			    depth + 1);
		n++;
	}
	if (n < 2)
		return head;
	v = xcalloc(n, sizeof(*v));
	for (k = head, i = 0; k != NONE; k = t->c[k].next)
		v[i++] = k;
	cmp_ctx = t;
	qsort(v, n, sizeof(*v), cont_date_cmp);
	cmp_ctx = NULL;
	for (i = 0; i + 1 < n; i++)
		t->c[v[i]].next = v[i + 1];
	t->c[v[n - 1]].next = NONE;
	head = v[0];
	free(v);
	return head;
}

/* Step 3: prune dummies in the list at *headp (parent p, NONE: root). */
static void
prune(struct tctx *t, size_t *headp, size_t p, unsigned depth)
{
	size_t *pp = headp, k, c, last, nch;

	while ((k = *pp) != NONE) {
		if (depth < IMAP_THREAD_REFS_MAX * 4)
			prune(t, &t->c[k].child, k, depth + 1);
		if (t->c[k].msg != NONE) {
			pp = &t->c[k].next;
			continue;
		}
		for (nch = 0, c = t->c[k].child; c != NONE; c = t->c[c].next)
			nch++;
		if (nch == 0) {
			*pp = t->c[k].next;
			continue;
		}
		if (p == NONE && nch > 1) {
			pp = &t->c[k].next;
			continue;
		}
		/* promote the children in place of the dummy */
		for (c = t->c[k].child, last = NONE; c != NONE;
		    c = t->c[c].next) {
			t->c[c].parent = p;
			last = c;
		}
		t->c[last].next = t->c[k].next;
		*pp = t->c[k].child;
		t->c[k].child = NONE;
		/* the promoted ones are pruned already: step over them */
		while (*pp != t->c[last].next)
			pp = &t->c[*pp].next;
	}
}

struct subj {
	const char	*subject;
	size_t		 k;
};

/* Step 5: merge root threads with the same base subject. */
static size_t
merge_subjects(struct tctx *t, size_t head)
{
	struct subj *tab;
	size_t n = 0, i, k, next, *pp, cap = 0;

	for (k = head; k != NONE; k = t->c[k].next)
		cap++;
	tab = xcalloc(cap ? cap : 1, sizeof(*tab));
	for (k = head; k != NONE; k = t->c[k].next) {
		const struct imap_sort_msg *m = first_msg(t, k);

		if (m == NULL || m->subject == NULL || m->subject[0] == '\0')
			continue;
		for (i = 0; i < n && casecmp(tab[i].subject, m->subject) != 0;
		    i++)
			;
		if (i == n) {
			tab[n].subject = m->subject;
			tab[n++].k = k;
			continue;
		}
		if (t->c[tab[i].k].msg != NONE && (t->c[k].msg == NONE ||
		    (t->msgs[t->c[tab[i].k].msg].reply && !m->reply)))
			tab[i].k = k;
	}
	for (pp = &head; (k = *pp) != NONE;) {
		const struct imap_sort_msg *m = first_msg(t, k);
		size_t o;

		next = t->c[k].next;
		if (m == NULL || m->subject == NULL || m->subject[0] == '\0') {
			pp = &t->c[k].next;
			continue;
		}
		for (i = 0; i < n && casecmp(tab[i].subject, m->subject) != 0;
		    i++)
			;
		if (i == n || tab[i].k == k) {
			pp = &t->c[k].next;
			continue;
		}
		o = tab[i].k;
		*pp = next;		/* k leaves the root list */
		t->c[k].next = NONE;
		if (t->c[o].msg == NONE && t->c[k].msg == NONE) {
			size_t c;

			while ((c = t->c[k].child) != NONE) {
				t->c[k].child = t->c[c].next;
				link_child(t, o, c);
			}
		} else if (t->c[o].msg == NONE ||
		    (m->reply && !t->msgs[t->c[o].msg].reply)) {
			link_child(t, o, k);
		} else {
			/* a new dummy in o's place holding both */
			size_t d = cont_new(t, NULL, 0), *qq;

			for (qq = &head; *qq != o; qq = &t->c[*qq].next)
				;
			*qq = d;
			t->c[d].next = t->c[o].next;
			t->c[o].next = NONE;
			t->c[o].parent = NONE;
			link_child(t, d, o);
			link_child(t, d, k);
			tab[i].k = d;
			if (pp == &t->c[o].next)
				pp = &t->c[d].next;
		}
	}
	free(tab);
	return head;
}

static int
thread_out(const struct tctx *t, size_t k, struct buf *out, unsigned depth)
{
	size_t c, nch = 0;
	int r = 0;

	if (t->c[k].msg != NONE)
		r |= buf_printf(out, "%u", t->msgs[t->c[k].msg].num);
	for (c = t->c[k].child; c != NONE; c = t->c[c].next)
		nch++;
	if (nch == 0 || depth > IMAP_THREAD_REFS_MAX * 4)
		return r;
	if (t->c[k].msg != NONE)
		r |= buf_append(out, " ", 1);
	if (nch == 1)
		return r | thread_out(t, t->c[k].child, out, depth + 1);
	for (c = t->c[k].child; c != NONE && r == 0; c = t->c[c].next) {
		r |= buf_append(out, "(", 1);
		r |= thread_out(t, c, out, depth + 1);
		r |= buf_append(out, ")", 1);
	}
	return r;
}

int
imap_thread_references(const struct imap_sort_msg *msgs, size_t n,
    struct buf *out)
{
	struct tctx t;
	size_t i, head = NONE, *pp = &head, ids = 0;
	int r = 0;

	if (n == 0)
		return 0;
	memset(&t, 0, sizeof(t));
	t.msgs = msgs;
	t.n = n;
	/* every message ID and reference may become a container: size the
	 * table for all of them at half load */
	for (i = 0; i < n; i++) {
		size_t pos = 0, len, k;
		const char *id;

		ids++;
		for (k = 0; k < IMAP_THREAD_REFS_MAX &&
		    next_id(msgs[i].refs, &pos, &id, &len); k++)
			ids++;
	}
	for (t.hcap = 64; t.hcap < 2 * ids; t.hcap *= 2)
		;
	t.hash = xreallocarray(NULL, t.hcap, sizeof(*t.hash));
	for (i = 0; i < t.hcap; i++)
		t.hash[i] = NONE;
	thread_link(&t);
	/* Step 2: the root set, in creation order */
	for (i = 0; i < t.nc; i++) {
		if (t.c[i].parent != NONE)
			continue;
		*pp = i;
		pp = &t.c[i].next;
	}
	*pp = NONE;
	prune(&t, &head, NONE, 0);
	head = sort_siblings(&t, head, 0);	/* (4), children too */
	head = merge_subjects(&t, head);
	head = sort_siblings(&t, head, 0);	/* (6) */
	for (i = head; i != NONE && r == 0; i = t.c[i].next) {
		r |= buf_append(out, "(", 1);
		r |= thread_out(&t, i, out, 0);
		r |= buf_append(out, ")", 1);
	}
	free(t.hash);
	free(t.c);
	return r < 0 ? -1 : 0;
}
