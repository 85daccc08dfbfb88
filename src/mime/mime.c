/* mime: splits a message into its tree of parts (RFC 5322 header/body,
 * RFC 2046 multipart boundaries, message/rfc822 encapsulation) and indexes
 * each part's header fields. One forward pass: every line is looked at
 * once per nesting level it is in, and a line is compared only with the
 * boundaries active at that point (at most MIME_DEPTH_MAX of them). */
#include "mime.h"

#include <stdlib.h>
#include <string.h>

#include "mime_private.h"
#include "xalloc.h"

/* Boundaries of the enclosing multiparts, innermost last. */
struct parse_ctx {
	struct mime_message	*m;
	const uint8_t		*d;
	size_t			 len;
	const char		*bnd[MIME_DEPTH_MAX + 1];
	size_t			 bndlen[MIME_DEPTH_MAX + 1];
	unsigned		 nbnd;
};

/* Where a part's content stopped: at a boundary line or at the end. */
struct stop {
	size_t	line;		/* start of the boundary line, or len */
	size_t	next;		/* first octet after the boundary line */
	int	which;		/* index into ctx->bnd, -1 at the end */
	bool	close;		/* "--boundary--" */
};

/* End of the line starting at pos: *next_r is after its LF (or len). */
static size_t
line_end(const struct parse_ctx *ctx, size_t pos, size_t *next_r)
{
	const uint8_t *lf;

	lf = memchr(ctx->d + pos, '\n', ctx->len - pos);
	if (lf == NULL) {
		*next_r = ctx->len;
		return ctx->len;
	}
	/* UNSAFE: lf points into d[pos..len), so the difference fits. */
	*next_r = (size_t)(lf - ctx->d) + 1;
	return (size_t)(lf - ctx->d);
}

/* Is the line at pos (ending at end, before any CR) a delimiter line of
 * an active boundary? RFC 2046 5.1.1: "--" boundary ["--"] then only
 * transport padding (blanks). */
static bool
is_boundary(const struct parse_ctx *ctx, size_t pos, size_t end,
    struct stop *st)
{
	const uint8_t *p = ctx->d + pos;
	size_t n = end - pos, q, bl;
	unsigned i;
	bool close;

	if (n < 3 || p[0] != '-' || p[1] != '-' || ctx->nbnd == 0)
		return false;
	for (i = ctx->nbnd; i-- > 0;) {
		bl = ctx->bndlen[i];
		if (n - 2 < bl || memcmp(p + 2, ctx->bnd[i], bl) != 0)
			continue;
		q = 2 + bl;
		close = false;
		if (q + 1 < n && p[q] == '-' && p[q + 1] == '-') {
			close = true;
			q += 2;
		}
		while (q < n && (mime_is_wsp(p[q]) || p[q] == '\r'))
			q++;
		if (q != n)
			continue;
		st->which = (int)i;
		st->close = close;
		return true;
	}
	return false;
}

/* Scan lines from pos (a line start) for the next active boundary. */
static void
scan_to_boundary(const struct parse_ctx *ctx, size_t pos, struct stop *st)
{
	size_t end, next;

	while (pos < ctx->len) {
		end = line_end(ctx, pos, &next);
		if (is_boundary(ctx, pos, end, st)) {
			st->line = pos;
			st->next = next;
			return;
		}
		pos = next;
	}
	st->line = st->next = ctx->len;
	st->which = -1;
	st->close = false;
}

/* The content before a boundary line ends before the line break that
 * precedes it (RFC 2046 5.1.1), but not before start. */
static size_t
content_end(const struct parse_ctx *ctx, size_t start, size_t line)
{
	size_t e = line;

	if (e == ctx->len)
		return e;
	if (e > start && ctx->d[e - 1] == '\n') {
		e--;
		if (e > start && ctx->d[e - 1] == '\r')
			e--;
	}
	return e;
}

static size_t
vsize(const struct parse_ctx *ctx, size_t off, size_t len, size_t *lines_r)
{
	const uint8_t *p = ctx->d + off, *end = p + len, *lf;
	size_t lines = 0, bare = 0;

	while (p < end && (lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		/* UNSAFE: lf > d when lf > p >= d; d[-1] is never read. */
		if (lf == ctx->d || lf[-1] != '\r')
			bare++;
		p = lf + 1;
	}
	if (lines_r != NULL)
		*lines_r = lines;
	return len + bare;
}

static bool
add_header(struct mime_part *part, size_t *cap, const uint8_t *d,
    size_t off, size_t colon, size_t end)
{
	struct mime_header *h;
	size_t nl = colon - off, v = colon + 1;

	if (part->nheaders >= MIME_HEADERS_MAX)
		return false;
	if (part->nheaders == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		part->headers = xreallocarray(part->headers, *cap,
		    sizeof(*part->headers));
	}
	while (nl > 0 && mime_is_wsp(d[off + nl - 1]))
		nl--;
	while (v < end && mime_is_wsp(d[v]))
		v++;
	h = &part->headers[part->nheaders++];
	h->name = d + off;
	h->name_len = nl;
	h->value = d + v;
	h->value_len = end - v;
	h->off = off;
	h->len = end - off;
	return true;
}

/* Extend the last field over a continuation line ending at end (before
 * its line break); next is after the line break. */
static void
extend_header(struct mime_part *part, const uint8_t *d, size_t end,
    size_t next)
{
	struct mime_header *h;
	size_t vend;

	if (part->nheaders == 0)
		return;
	h = &part->headers[part->nheaders - 1];
	/* UNSAFE: h->value points into d at or before end. */
	vend = end;
	if (vend - (size_t)(h->value - d) > MIME_HEADER_MAX)
		vend = (size_t)(h->value - d) + MIME_HEADER_MAX;
	h->value_len = vend - (size_t)(h->value - d);
	h->len = next - h->off;
}

/* A header field name is printable ASCII except colon (RFC 5322 2.2),
 * blanks before the colon are obs-optional. Leniently, blanks inside the
 * name are tolerated too, so one broken field does not end the header.
 * Returns the colon position, or 0 when the line is not a field. */
static size_t
field_colon(const uint8_t *d, size_t pos, size_t end)
{
	size_t i = pos;

	if (i < end && mime_is_wsp(d[i]))
		return 0;
	while (i < end && ((d[i] > 32 && d[i] < 127) || mime_is_wsp(d[i])) &&
	    d[i] != ':')
		i++;
	if (i > pos && i < end && d[i] == ':')
		return i;
	return 0;
}

/* Header of a part starting at pos. Sets hdr_*, body_off and the
 * NO_SEPARATOR flag; returns true when a boundary line ended the header
 * (then *st says which and the body is empty). */
static bool
parse_header(struct parse_ctx *ctx, struct mime_part *part, size_t pos,
    struct stop *st)
{
	size_t start = pos, end, cend, next, colon, cap = 0, fend;
	bool in_field = false;

	part->hdr_off = pos;
	while (pos < ctx->len) {
		end = line_end(ctx, pos, &next);
		cend = end > pos && ctx->d[end - 1] == '\r' ? end - 1 : end;
		if (is_boundary(ctx, pos, end, st)) {
			st->line = pos;
			st->next = next;
			part->flags |= MIME_PART_NO_SEPARATOR;
			part->hdr_len = pos - start;
			part->body_off = pos;
			return true;
		}
		if (cend == pos && end < ctx->len) {
			/* the blank line ending the header */
			part->hdr_len = next - start;
			part->body_off = next;
			return false;
		}
		if (mime_is_wsp(ctx->d[pos]) && in_field) {
			extend_header(part, ctx->d, cend, next);
		} else if ((colon = field_colon(ctx->d, pos, cend)) != 0) {
			fend = cend - pos > MIME_HEADER_MAX ?
			    pos + MIME_HEADER_MAX : cend;
			if (colon >= fend)
				fend = cend;
			in_field = add_header(part, &cap, ctx->d, pos, colon,
			    fend);
			if (in_field)
				part->headers[part->nheaders - 1].len =
				    next - pos;
		} else if (mime_is_wsp(ctx->d[pos])) {
			/* stray continuation at the start: keep as header */
		} else {
			/* not a header field: the body starts here */
			break;
		}
		pos = next;
	}
	part->flags |= MIME_PART_NO_SEPARATOR;
	part->hdr_len = pos - start;
	part->body_off = pos;
	return false;
}

static struct mime_part *
new_part(struct parse_ctx *ctx, struct mime_part *parent)
{
	struct mime_part *p, **tail;

	p = xcalloc(1, sizeof(*p));
	ctx->m->nparts++;
	if (parent != NULL) {
		p->parent = parent;
		p->depth = parent->depth + 1;
		for (tail = &parent->children; *tail != NULL;
		    tail = &(*tail)->next)
			;
		*tail = p;
		parent->nchildren++;
	}
	return p;
}

static void parse_part(struct parse_ctx *, struct mime_part *, size_t,
    struct stop *);

static bool
can_descend(struct parse_ctx *ctx, const struct mime_part *part)
{
	if (part->depth >= MIME_DEPTH_MAX) {
		ctx->m->flags |= MIME_MSG_DEEP;
		return false;
	}
	if (ctx->m->nparts >= MIME_PARTS_MAX) {
		ctx->m->flags |= MIME_MSG_TRUNCATED;
		return false;
	}
	return true;
}

/* The body of a multipart whose boundary is pushed already. */
static void
parse_multipart(struct parse_ctx *ctx, struct mime_part *part,
    struct stop *st)
{
	int me = (int)ctx->nbnd - 1;
	struct mime_part *child;

	part->flags |= MIME_PART_MULTIPART;
	scan_to_boundary(ctx, part->body_off, st);	/* skip preamble */
	while (st->which == me && !st->close) {
		if (ctx->m->nparts >= MIME_PARTS_MAX) {
			ctx->m->flags |= MIME_MSG_TRUNCATED;
			scan_to_boundary(ctx, st->next, st);
			continue;
		}
		child = new_part(ctx, part);
		child->flags |= part->flags & MIME_PART_OPAQUE;
		parse_part(ctx, child, st->next, st);
	}
	ctx->nbnd--;
	if (st->which == me) {
		/* close delimiter: the epilogue runs to an outer boundary */
		scan_to_boundary(ctx, st->next, st);
	} else
		part->flags |= MIME_PART_NO_END;
}

/* Make p (and anything under it) an empty part at off. */
static void
empty_at(struct mime_part *p, size_t off)
{
	struct mime_part *c;

	p->hdr_off = p->body_off = off;
	p->hdr_len = p->body_len = 0;
	p->hdr_vsize = p->body_vsize = p->body_lines = 0;
	for (c = p->children; c != NULL; c = c->next)
		empty_at(c, off);
}

/* Parse the part starting at pos; *st is where its content stopped. */
static void
parse_part(struct parse_ctx *ctx, struct mime_part *part, size_t pos,
    struct stop *st)
{
	struct mime_part *child;
	bool digest;
	size_t end, n;

	digest = part->parent != NULL &&
	    (part->parent->flags & MIME_PART_MULTIPART) != 0 &&
	    part->parent->subtype != NULL &&
	    strcmp(part->parent->subtype, "digest") == 0;
	if (parse_header(ctx, part, pos, st)) {
		mime_content_parse(ctx->m, part, digest);
		goto sizes;
	}
	mime_content_parse(ctx->m, part, digest);

	if (strcmp(part->type, "multipart") == 0) {
		if (part->boundary == NULL) {
			part->flags |= MIME_PART_NO_BOUNDARY;
			scan_to_boundary(ctx, part->body_off, st);
		} else if (!can_descend(ctx, part)) {
			part->flags |= MIME_PART_OPAQUE;
			scan_to_boundary(ctx, part->body_off, st);
		} else {
			ctx->bnd[ctx->nbnd] = part->boundary;
			ctx->bndlen[ctx->nbnd] = strlen(part->boundary);
			ctx->nbnd++;
			parse_multipart(ctx, part, st);
		}
	} else if ((part->flags & MIME_PART_MESSAGE) != 0) {
		if (!can_descend(ctx, part) ||
		    (part->cte != MIME_CTE_7BIT && part->cte != MIME_CTE_8BIT &&
		    part->cte != MIME_CTE_BINARY)) {
			part->flags |= MIME_PART_OPAQUE;
			scan_to_boundary(ctx, part->body_off, st);
		} else {
			child = new_part(ctx, part);
			parse_part(ctx, child, part->body_off, st);
		}
	} else
		scan_to_boundary(ctx, part->body_off, st);

sizes:
	/* The line break before a boundary belongs to it, even when it is
	 * the end of the header: then the header gives it up. */
	end = content_end(ctx, part->hdr_off, st->line);
	if (end < part->body_off) {
		part->body_off = end;
		part->hdr_len = end - part->hdr_off;
	}
	part->body_len = end - part->body_off;
	/* A child that starts after the end (an empty encapsulated message,
	 * or an empty last part whose delimiter line is followed at once by
	 * an outer boundary, the line break going to that boundary) is an
	 * empty part at the end, so every part stays inside its parent. */
	for (child = part->children; child != NULL; child = child->next)
		if (child->hdr_off > end)
			empty_at(child, end);
	part->hdr_vsize = vsize(ctx, part->hdr_off, part->hdr_len, NULL);
	part->body_vsize = vsize(ctx, part->body_off, part->body_len,
	    &part->body_lines);
	if (part->body_len > 0) {
		if (memchr(ctx->d + part->body_off, '\0', part->body_len))
			part->flags |= MIME_PART_HAS_NUL;
		for (n = 0; n < part->body_len; n++)
			if (ctx->d[part->body_off + n] >= 0x80) {
				part->flags |= MIME_PART_8BIT;
				break;
			}
	}
}

const struct mime_part *
mime_part_next(const struct mime_part *p)
{
	if (p->children != NULL)
		return p->children;
	while (p != NULL && p->next == NULL)
		p = p->parent;
	return p != NULL ? p->next : NULL;
}

const struct mime_param *
mime_part_filename(const struct mime_part *p)
{
	const struct mime_param *pa;

	pa = mime_param_find(p->disp_params, p->ndisp_params, "filename");
	return pa != NULL ? pa : mime_param_find(p->params, p->nparams,
	    "name");
}

size_t
mime_header_end(const uint8_t *msg, size_t len)
{
	size_t i;

	if (len >= 1 && msg[0] == '\n')
		return 1;
	if (len >= 2 && msg[0] == '\r' && msg[1] == '\n')
		return 2;
	for (i = 0; i + 1 < len; i++) {
		if (msg[i] != '\n')
			continue;
		if (msg[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && msg[i + 1] == '\r' && msg[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

struct mime_message *
mime_parse(const uint8_t *data, size_t len)
{
	struct parse_ctx ctx;
	struct mime_message *m;
	struct stop st;

	m = xcalloc(1, sizeof(*m));
	m->data = data;
	m->len = data == NULL ? 0 : len;
	memset(&ctx, 0, sizeof(ctx));
	ctx.m = m;
	ctx.d = data;
	ctx.len = m->len;
	m->root = new_part(&ctx, NULL);
	parse_part(&ctx, m->root, 0, &st);
	/* nothing is active at the root, so the root runs to the end */
	return m;
}

static void
part_free(struct mime_part *p)
{
	struct mime_part *c, *next;

	for (c = p->children; c != NULL; c = next) {
		next = c->next;
		part_free(c);
	}
	mime_content_free(p);
	free(p->headers);
	free(p);
}

void
mime_message_free(struct mime_message **mp)
{
	if (*mp == NULL)
		return;
	if ((*mp)->root != NULL)
		part_free((*mp)->root);
	free(*mp);
	*mp = NULL;
}

const struct mime_part *
mime_part_by_section(const struct mime_message *msg, const char *section,
    size_t len)
{
	const struct mime_part *p = msg->root, *c;
	size_t i = 0, n;
	bool self = true;	/* a single part may be called "1" here */

	while (i < len) {
		n = 0;
		if (section[i] < '1' || section[i] > '9')
			return NULL;
		while (i < len && section[i] >= '0' && section[i] <= '9') {
			if (n > MIME_PARTS_MAX)
				return NULL;
			n = n * 10 + (size_t)(section[i] - '0');
			i++;
		}
		if (i < len) {
			if (section[i] != '.' || i + 1 == len)
				return NULL;
			i++;
		}
		/* a message/rfc822 part stands for its message */
		if ((p->flags & MIME_PART_MESSAGE) != 0 && p->children != NULL) {
			p = p->children;
			self = true;
		}
		if ((p->flags & MIME_PART_MULTIPART) == 0) {
			/* RFC 3501 6.4.5: a non-multipart message has the
			 * one part "1" */
			if (n != 1 || !self)
				return NULL;
			self = false;
			continue;
		}
		for (c = p->children; c != NULL && n > 1; c = c->next)
			n--;
		if (c == NULL)
			return NULL;
		p = c;
		self = false;
	}
	return p;
}

const struct mime_header *
mime_header_find_nth(const struct mime_part *part, const char *name,
    size_t nth)
{
	size_t i, j, nl = strlen(name);
	const struct mime_header *h;

	for (i = 0; i < part->nheaders; i++) {
		h = &part->headers[i];
		if (h->name_len != nl)
			continue;
		for (j = 0; j < nl; j++)
			if (mime_lc(h->name[j]) != mime_lc((uint8_t)name[j]))
				break;
		if (j == nl && nth-- == 0)
			return h;
	}
	return NULL;
}

const struct mime_header *
mime_header_find(const struct mime_part *part, const char *name)
{
	return mime_header_find_nth(part, name, 0);
}

int
mime_header_unfold(const uint8_t *value, size_t len, struct buf *out)
{
	size_t i, s = 0;

	for (i = 0; i < len; i++) {
		if (value[i] != '\r' && value[i] != '\n')
			continue;
		if (buf_append(out, value + s, i - s) < 0)
			return -1;
		s = i + 1;
	}
	return buf_append(out, value + s, len - s);
}

char *
mime_unfold_dup(const uint8_t *p, size_t len)
{
	char *s = xmalloc(len + 1);
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (p[i] != '\r' && p[i] != '\n' && p[i] != '\0')
			s[n++] = (char)p[i];
	while (n > 0 && mime_is_wsp((uint8_t)s[n - 1]))
		n--;
	s[n] = '\0';
	for (i = 0; mime_is_wsp((uint8_t)s[i]); i++)
		;
	if (i > 0)
		memmove(s, s + i, n - i + 1);
	return s;
}

char *
mime_lower_dup(const uint8_t *p, size_t len)
{
	char *s = xmalloc(len + 1);
	size_t i;

	for (i = 0; i < len; i++)
		s[i] = (char)mime_lc(p[i]);
	s[len] = '\0';
	return s;
}
