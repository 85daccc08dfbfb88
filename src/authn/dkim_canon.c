/* dkim_canon: splitting a message into its header fields and body, and
 * the "simple" and "relaxed" canonicalizations of RFC 6376 3.4 for header
 * fields and (streaming, with the l= limit) bodies. Also the header hash
 * of 3.7: the fields named by h=, selected bottom-up, then the signature
 * field itself with its b= value cut out. */
#include "dkim_private.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "util.h"
#include "xalloc.h"

#define DKIM_STAGE		1024	/* header canonicalization on the stack */
#define DKIM_HBATCH		4096	/* header hash input batched */

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *
dkim_sha256(void)
{
	if (pthread_once(&sha256_once, sha256_fetch) != 0 ||
	    sha256_md == NULL)
		return EVP_sha256();	/* the implicit fetch then */
	return sha256_md;
}

static bool
is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/*
 * Message splitting
 */

void
dkim_msg_init(struct dkim_msg *m, dkim_body_sink *sink, void *ctx)
{
	memset(m, 0, sizeof(*m));
	buf_init(&m->hdr, DKIM_HEADER_MAX);
	/* The message starts as if after a CRLF: a leading empty line
	 * means an empty header. */
	m->eoh = 2;
	m->sink = sink;
	m->sink_ctx = ctx;
}

void
dkim_msg_deinit(struct dkim_msg *m)
{
	buf_deinit(&m->hdr);
	free(m->fields);
	m->fields = NULL;
	m->nfields = 0;
}

static void
hdr_append(struct dkim_msg *m, const uint8_t *p, size_t n)
{
	if (m->overflow || n == 0)
		return;
	if (buf_append(&m->hdr, p, n) < 0)
		m->overflow = true;
}

void
dkim_msg_feed(struct dkim_msg *m, const uint8_t *p, size_t n)
{
	size_t i;

	if (m->in_body) {
		if (n > 0)
			m->sink(m->sink_ctx, p, n);
		return;
	}
	/* Match CR LF CR LF; eoh is how much of it was seen. */
	for (i = 0; i < n; i++) {
		if (m->eoh == 0) {
			/* Nothing matched: only a CR can start a match. */
			const uint8_t *cr = memchr(p + i, '\r', n - i);

			if (cr == NULL) {
				i = n;
				break;
			}
			i = (size_t)(cr - p);
		}
		if (p[i] == '\r')
			m->eoh = m->eoh == 2 ? 3 : 1;
		else if (p[i] == '\n')
			m->eoh = m->eoh == 1 ? 2 : m->eoh == 3 ? 4 : 0;
		else
			m->eoh = 0;
		if (m->eoh == 4)
			break;
	}
	if (i == n) {
		hdr_append(m, p, n);
		return;
	}
	hdr_append(m, p, i + 1);
	/* Drop the empty line's CRLF: the block ends with a field's CRLF,
	 * or is empty. */
	if (!m->overflow)
		m->hdr.len -= 2;
	m->in_body = true;
	dkim_msg_split(m);
	if (i + 1 < n)
		m->sink(m->sink_ctx, p + i + 1, n - i - 1);
}

void
dkim_msg_split(struct dkim_msg *m)
{
	const uint8_t *h = m->hdr.data, *colon;
	size_t len = m->hdr.len, i = 0, start, cap = 0, k;

	if (m->fields != NULL || m->overflow)
		return;
	while (i < len) {
		start = i;
		/* A field ends at a CRLF not followed by WSP. */
		while (i < len) {
			const uint8_t *cr = memchr(h + i, '\r', len - i);

			if (cr == NULL) {
				i = len;
				break;
			}
			i = (size_t)(cr - h);
			if (i + 1 < len && h[i + 1] == '\n' &&
			    (i + 2 >= len || !is_wsp(h[i + 2])))
				break;
			i++;
		}
		if (m->nfields == DKIM_FIELDS_MAX) {
			m->too_many = true;
			break;
		}
		if (m->nfields == cap) {
			cap = cap == 0 ? 32 : cap * 2;
			m->fields = xreallocarray(m->fields, cap,
			    sizeof(*m->fields));
		}
		m->fields[m->nfields].off = start;
		m->fields[m->nfields].len = i - start;
		m->fields[m->nfields].name_len = 0;
		if ((colon = memchr(h + start, ':', i - start)) != NULL) {
			k = (size_t)(colon - h);
			while (k > start && is_wsp(h[k - 1]))
				k--;
			m->fields[m->nfields].name_len = k - start;
		}
		m->nfields++;
		i += 2;		/* CRLF (or past the end) */
	}
	if (m->fields == NULL)
		m->fields = xcalloc(1, sizeof(*m->fields));
}

bool
dkim_field_is(const struct dkim_msg *m, const struct dkim_field *f,
    const char *name, size_t len)
{
	return f->name_len == len && len > 0 &&
	    ascii_nieq((const char *)m->hdr.data + f->off, name, len);
}

/*
 * Header canonicalization (3.4.1, 3.4.2)
 */

/* Octets that end a run of plain header value in relaxed header
 * canonicalization. */
static const bool hdr_stop[256] = {
	[' '] = true, ['\t'] = true, ['\r'] = true,
};

/* Relaxed canonicalization of the field at u into o, which has room for
 * len + 2 octets (the output is never longer than the input, plus the
 * CRLF): written straight, no staging. Returns the octets written. */
static size_t
relaxed_header(uint8_t *o, const uint8_t *u, size_t len, bool crlf)
{
	uint8_t *start = o;
	const uint8_t *colon = memchr(u, ':', len);
	size_t i, nlen = colon != NULL ? (size_t)(colon - u) : len;
	bool wsp = false, any = false;

	/* Name: lower case, WSP before the colon deleted. Unfolding in
	 * the name cannot happen (a name has no WSP). */
	while (nlen > 0 && is_wsp(u[nlen - 1]))
		nlen--;
	for (i = 0; i < nlen; i++)
		*o++ = (u[i] >= 'A' && u[i] <= 'Z') ?
		    (uint8_t)(u[i] - 'A' + 'a') : u[i];
	if (colon != NULL) {
		*o++ = ':';
		/* Value: unfold, WSP runs to one SP, no WSP at either end. */
		i = (size_t)(colon - u) + 1;
		while (i < len) {
			if (u[i] == '\r' && i + 1 < len && u[i + 1] == '\n') {
				i += 2;
				continue;
			}
			if (is_wsp(u[i])) {
				wsp = true;
				i++;
				continue;
			}
			if (wsp && any)
				*o++ = ' ';
			wsp = false;
			any = true;
			/* A run of plain octets (a lone CR is one too). */
			*o++ = u[i++];
			while (i < len && !hdr_stop[u[i]])
				*o++ = u[i++];
		}
	}
	if (crlf) {
		*o++ = '\r';
		*o++ = '\n';
	}
	return (size_t)(o - start);
}

int
dkim_canon_header(enum dkim_canon c, const char *p, size_t len, bool crlf,
    struct buf *out)
{
	uint8_t stage[DKIM_STAGE], *o;
	size_t n;
	int r;

	if (c == DKIM_CANON_SIMPLE) {
		if (buf_append(out, p, len) < 0 ||
		    (crlf && buf_append(out, "\r\n", 2) < 0))
			return -1;
		return 0;
	}
	/* Short fields (nearly all) on the stack, others in one
	 * allocation: either way one append. */
	o = len <= sizeof(stage) - 2 ? stage : xmalloc(len + 2);
	n = relaxed_header(o, (const uint8_t *)p, len, crlf);
	r = buf_append(out, o, n);
	if (o != stage)
		free(o);
	return r < 0 ? -1 : 0;
}

/*
 * Body canonicalization (3.4.3, 3.4.4)
 */

void
dkim_body_init(struct dkim_body *b, enum dkim_canon c, EVP_MD_CTX *md,
    bool has_limit, uint64_t limit)
{
	memset(b, 0, offsetof(struct dkim_body, out));
	b->canon = c;
	b->md = md;
	b->has_limit = has_limit;
	b->limit = limit;
}

static void
body_flush(struct dkim_body *b)
{
	size_t n = b->outlen;

	b->outlen = 0;
	if (b->has_limit) {
		uint64_t room = b->limit > b->hashed ? b->limit - b->hashed : 0;

		if (room < n)
			n = (size_t)room;
	}
	if (n == 0)
		return;
	if (EVP_DigestUpdate(b->md, b->out, n) != 1)
		b->failed = true;
	b->hashed += n;
}

static inline void
body_put(struct dkim_body *b, uint8_t c)
{
	if (b->outlen == sizeof(b->out))
		body_flush(b);
	b->out[b->outlen++] = c;
	b->total++;
}

static void
body_span(struct dkim_body *b, const uint8_t *p, size_t n)
{
	size_t k;

	b->total += n;
	while (n > 0) {
		if (b->outlen == sizeof(b->out))
			body_flush(b);
		k = sizeof(b->out) - b->outlen;
		if (k > n)
			k = n;
		memcpy(b->out + b->outlen, p, k);
		b->outlen += k;
		p += k;
		n -= k;
	}
}

/* Emit the line ends held back while lines were empty. */
static void
body_pending(struct dkim_body *b)
{
	for (; b->pending_crlf > 0; b->pending_crlf--) {
		body_put(b, '\r');
		body_put(b, '\n');
	}
}

/* A content octet other than WSP (or any octet, simple). */
static inline void
body_content(struct dkim_body *b, uint8_t c)
{
	if (b->pending_crlf > 0)
		body_pending(b);
	if (b->wsp) {
		body_put(b, ' ');
		b->wsp = false;
	}
	body_put(b, c);
	b->line = b->any = true;
}

static void
body_simple(struct dkim_body *b, const uint8_t *p, size_t n)
{
	const uint8_t *cr;
	size_t i = 0, end;

	while (i < n) {
		if (b->cr) {
			b->cr = false;
			if (p[i] == '\n') {
				b->pending_crlf++;
				b->line = false;
				i++;
				continue;
			}
			body_content(b, '\r');
			continue;
		}
		if (p[i] == '\r') {
			b->cr = true;
			i++;
			continue;
		}
		cr = memchr(p + i, '\r', n - i);
		end = cr != NULL ? (size_t)(cr - p) : n;
		if (b->pending_crlf > 0)
			body_pending(b);
		body_span(b, p + i, end - i);
		b->line = b->any = true;
		i = end;
	}
}

/* Octets that end a run of plain content in relaxed body
 * canonicalization. */
static const bool relaxed_stop[256] = {
	[' '] = true, ['\t'] = true, ['\r'] = true,
};

/* The 0x80 bits of the octets of x equal to c (exact: no carries
 * between octets). */
static inline uint64_t
octets_equal(uint64_t x, uint8_t c)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
	uint64_t y = x ^ (0x0101010101010101ULL * c);

	return ~(((y & low7) + low7) | y) & ~low7;
}

/* Are the 8 octets at p unchanged by relaxed body canonicalization when
 * content comes before them and something other than WSP or CR after
 * them (the caller checks that the last one is not SP)? No HTAB, no
 * CR, no two SPs in a row. */
static inline bool
relaxed_plain8(const uint8_t *p)
{
	uint64_t x, sp;

	memcpy(&x, p, sizeof(x));
	if ((octets_equal(x, '\t') | octets_equal(x, '\r')) != 0)
		return false;
	sp = octets_equal(x, ' ');
	/* Neighbouring octets are neighbouring bytes of x in either byte
	 * order. */
	return (sp & (sp >> 8)) == 0;
}

#ifdef __SSE2__
/* x with HTAB as SP (only the first octet of a WSP run is kept). */
static inline __m128i
tab_to_sp(__m128i x)
{
	return _mm_xor_si128(x, _mm_and_si128(_mm_cmpeq_epi8(x,
	    _mm_set1_epi8('\t')), _mm_set1_epi8('\t' ^ ' ')));
}

/* Relaxed body canonicalization of the 16 octets at p into o, with
 * content (not WSP) just before p and at least 32 octets readable at p
 * (the look past a CR); o has room for 31 octets. Settles in place what
 * the masks show: WSP runs to one SP, a WSP run before CRLF dropped, and
 * a CRLF with content after it. Returns the octets consumed, *olen the
 * octets written; stops early before what needs the state machine (a
 * WSP run reaching the end of the block, a bare CR, a CRLF followed by
 * WSP or CR), and at the CR of such a CRLF, its WSP run already
 * dropped. */
static size_t
relaxed16(const uint8_t *p, uint8_t *o, size_t *olen)
{
	const __m128i x = _mm_loadu_si128((const void *)p);
	const __m128i tab = _mm_cmpeq_epi8(x, _mm_set1_epi8('\t'));
	unsigned ws, cr, lim, mask, keep_to, drop, d, kept, pos, k, j;
	uint8_t *w = o;

	ws = (unsigned)_mm_movemask_epi8(_mm_or_si128(tab,
	    _mm_cmpeq_epi8(x, _mm_set1_epi8(' '))));
	cr = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x,
	    _mm_set1_epi8('\r')));
	lim = cr != 0 ? (unsigned)__builtin_ctz(cr) : 16;
	mask = (1u << lim) - 1;
	/* The octets up to the WSP run that ends at lim (lim: none). */
	k = ~ws & mask;
	keep_to = k != 0 ? 32 - (unsigned)__builtin_clz(k) : 0;
	/* The second and later octets of each WSP run go (the one before
	 * p is content); a run before a CRLF goes whole; one at the end of
	 * the block or before a bare CR is left for the state machine. */
	drop = ws & (ws << 1) & mask;
	if (lim < 16 && p[lim + 1] == '\n') {
		drop |= mask & ~((1u << keep_to) - 1);
	} else if (keep_to < lim) {
		lim = keep_to;
		mask = (1u << lim) - 1;
		drop &= mask;
	}
	_mm_storeu_si128((void *)w, tab_to_sp(x));
	/* Close the gaps: after each dropped run, the rest of the block
	 * again where the output has got to (loaded again from the input:
	 * a load across the two halves of a fresh 32-octet stack copy
	 * would wait for the stores, a stall that cost more than the
	 * rest of the block). */
	pos = 0;
	for (d = drop; d != 0; d = drop & (~0u << j)) {
		k = (unsigned)__builtin_ctz(d);
		w += k - pos;
		if ((kept = ~drop & mask & (~0u << k)) == 0) {
			pos = lim;
			break;
		}
		j = (unsigned)__builtin_ctz(kept);
		_mm_storeu_si128((void *)w, tab_to_sp(_mm_loadu_si128(
		    (const void *)(p + j))));
		pos = j;
	}
	w += lim - pos;
	*olen = (size_t)(w - o);
	return lim;
}
#endif

/* Copy content from *pp (< end) straight into the staging buffer, up to
 * the room left, while the relaxed form is plain to see: octets other
 * than WSP and CR; a WSP run between two of them as one SP; a CRLF
 * followed by one of them. Stops before anything else (a WSP run or a
 * CRLF at the end of the input or before WSP, CR or CRLF; a bare CR)
 * and leaves it to body_relaxed(). Call with a run started
 * (pending_crlf 0, wsp false). */
static void
body_relaxed_run(struct dkim_body *b, const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *p = *pp, *q, *w;
	uint8_t *o = b->out + b->outlen, *start = o;
	size_t room = sizeof(b->out) - b->outlen, n;

	/* UNSAFE: never more output octets than input octets consumed,
	 * and nothing is read or consumed at or past q (at most room
	 * octets ahead), so o stays inside b->out; relaxed16() reads 32
	 * octets and writes up to 31 past o, so it runs only with 32 left
	 * before q. */
	q = (size_t)(end - p) < room ? end : p + room;
	while (p < q) {
		const uint8_t *lim;

#ifdef __SSE2__
		/* Sixteen octets at a time, while each block leaves the
		 * next one after content; a CRLF followed by content is
		 * settled here too, so ordinary text stays in this loop. */
		while (q - p >= 32) {
			size_t used = relaxed16(p, o, &n);

			o += n;
			p += used;
			if (used == 16)
				continue;
			if (*p != '\r' || p[1] != '\n' || relaxed_stop[p[2]])
				goto out;
			*o++ = '\r';
			*o++ = '\n';
			p += 2;
		}
#endif
		/* Eight octets at a time while they are plain text... */
		while (q - p >= 8 && p[7] != ' ' && relaxed_plain8(p)) {
			memcpy(o, p, 8);
			o += 8;
			p += 8;
		}
		/* ...else at least the next eight one by one. */
		lim = q - p > 8 ? p + 8 : q;
		while (p < lim) {
			if (!relaxed_stop[*p]) {
				*o++ = *p++;
				continue;
			}
			if (*p == '\r') {
				if (q - p < 3 || p[1] != '\n' ||
				    relaxed_stop[p[2]])
					goto out;
				*o++ = '\r';
				*o++ = '\n';
				*o++ = p[2];
				p += 3;
				continue;
			}
			for (w = p + 1; w < q && (*w == ' ' || *w == '\t');
			    w++)
				;
			if (w == q || relaxed_stop[*w])
				goto out;
			*o++ = ' ';
			*o++ = *w;
			p = w + 1;
		}
	}
out:
	n = (size_t)(o - start);
	b->outlen += n;
	b->total += n;
	*pp = p;
}

static void
body_relaxed(struct dkim_body *b, const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n;

	while (p < end) {
		uint8_t c = *p;

		if (b->cr) {
			b->cr = false;
			if (c == '\n') {
				b->pending_crlf++;
				b->line = false;
				b->wsp = false;
				p++;
				continue;
			}
			body_content(b, '\r');
		}
		if (c == '\r') {
			b->cr = true;
			p++;
		} else if (c == ' ' || c == '\t') {
			b->wsp = true;
			p++;
		} else {
			/* The first octet settles pending line ends and
			 * WSP; the rest of the run is copied as it is. */
			body_content(b, c);
			p++;
			body_relaxed_run(b, &p, end);
		}
	}
}

void
dkim_body_feed(struct dkim_body *b, const uint8_t *p, size_t n)
{
	if (b->canon == DKIM_CANON_SIMPLE)
		body_simple(b, p, n);
	else
		body_relaxed(b, p, n);
}

int
dkim_body_end(struct dkim_body *b)
{
	if (b->cr) {
		b->cr = false;
		body_content(b, '\r');
	}
	b->wsp = false;
	/* "*CRLF" at the end becomes one CRLF; a last line without one
	 * gets it; an empty body is CRLF (simple) or nothing (relaxed). */
	if (b->any || b->canon == DKIM_CANON_SIMPLE) {
		body_put(b, '\r');
		body_put(b, '\n');
	}
	b->pending_crlf = 0;
	body_flush(b);
	return b->failed ? -1 : 0;
}

/*
 * Header hash (3.7)
 */

/* Canonicalized header fields gathered for one digest update. */
struct hbatch {
	uint8_t		 b[DKIM_HBATCH];
	size_t		 n;
	EVP_MD_CTX	*md;
};

static int
hbatch_flush(struct hbatch *h)
{
	int r = h->n == 0 ? 1 : EVP_DigestUpdate(h->md, h->b, h->n);

	h->n = 0;
	return r == 1 ? 0 : -1;
}

/* Canonicalize the field at p into the batch (straight, when it fits),
 * digesting what was gathered when it is full. */
static int
hbatch_field(struct hbatch *h, enum dkim_canon c, const uint8_t *p,
    size_t len, bool crlf)
{
	if (len + 2 > sizeof(h->b) - h->n && hbatch_flush(h) < 0)
		return -1;
	if (len + 2 > sizeof(h->b)) {
		/* Longer than the batch: through a buffer of its own. */
		struct buf out;
		int r;

		buf_init(&out, DKIM_SIG_FIELD_MAX + DKIM_HEADER_MAX);
		r = dkim_canon_header(c, (const char *)p, len, crlf, &out);
		if (r == 0 && out.len > 0 &&
		    EVP_DigestUpdate(h->md, out.data, out.len) != 1)
			r = -1;
		buf_deinit(&out);
		return r;
	}
	if (c == DKIM_CANON_SIMPLE) {
		memcpy(h->b + h->n, p, len);
		h->n += len;
		if (crlf) {
			h->b[h->n++] = '\r';
			h->b[h->n++] = '\n';
		}
	} else
		h->n += relaxed_header(h->b + h->n, p, len, crlf);
	return 0;
}

int
dkim_hash_headers(const struct dkim_msg *m, const struct dkim_slice *h,
    size_t nh, enum dkim_canon c, size_t self, const char *sigf,
    size_t siglen, size_t bstart, size_t bend, EVP_MD_CTX *md)
{
	struct hbatch hb;
	uint8_t cut[DKIM_STAGE], *sc;
	bool used_stack[64], *used;
	size_t i, k;
	int ret = -1;

	if (bstart > bend || bend > siglen)
		return -1;
	used = m->nfields + 1 <= sizeof(used_stack) / sizeof(used_stack[0]) ?
	    used_stack : xmalloc((m->nfields + 1) * sizeof(*used));
	memset(used, 0, (m->nfields + 1) * sizeof(*used));
	if (self < m->nfields)
		used[self] = true;
	hb.n = 0;
	hb.md = md;
	for (i = 0; i < nh; i++) {
		/* The last unused instance of the name; none: nothing. */
		for (k = m->nfields; k > 0; k--) {
			const struct dkim_field *f = &m->fields[k - 1];

			if (used[k - 1] || !dkim_field_is(m, f, h[i].p,
			    h[i].len))
				continue;
			used[k - 1] = true;
			if (hbatch_field(&hb, c, m->hdr.data + f->off, f->len,
			    true) < 0)
				goto done;
			break;
		}
	}
	/* The signature field with b= empty, without the final CRLF. A
	 * copy, because relaxed whitespace handling spans the cut. */
	k = siglen - (bend - bstart);
	sc = k <= sizeof(cut) ? cut : xmalloc(k);
	memcpy(sc, sigf, bstart);
	memcpy(sc + bstart, sigf + bend, siglen - bend);
	if (hbatch_field(&hb, c, sc, k, false) < 0 || hbatch_flush(&hb) < 0) {
		if (sc != cut)
			free(sc);
		goto done;
	}
	if (sc != cut)
		free(sc);
	ret = 0;
done:
	if (used != used_stack)
		free(used);
	return ret;
}
