/* mime_content: the Content-* header fields of a part (RFC 2045, RFC 2183
 * disposition, RFC 3282 language) and their parameters, with RFC 2231
 * continuations, charsets and languages. Lenient: unquoted values may hold
 * tspecials ("boundary=----=_Part_1" is common), a broken field yields the
 * RFC 2045 default. */
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "mime_private.h"
#include "xalloc.h"

/* The bufs here have no maximum, so their appends cannot fail. */
#define RAW_PARAMS_MAX	256

/* A parameter as written: name*N*=value. */
struct raw_param {
	char	*name;		/* lower-case base name */
	int	 section;	/* -1: no section */
	bool	 ext;		/* trailing '*' */
	uint8_t	*val;		/* unquoted value */
	size_t	 len;
	bool	 quoted;
};

struct lex {
	const uint8_t	*p;
	size_t		 len;
	size_t		 i;
};

/* Skip blanks, line breaks and (nested) comments. */
static void
skip_cfws(struct lex *lx)
{
	unsigned depth;

	while (lx->i < lx->len) {
		if (mime_is_space(lx->p[lx->i])) {
			lx->i++;
			continue;
		}
		if (lx->p[lx->i] != '(')
			return;
		depth = 0;
		while (lx->i < lx->len) {
			if (lx->p[lx->i] == '\\')
				lx->i++;
			else if (lx->p[lx->i] == '(')
				depth++;
			else if (lx->p[lx->i] == ')' && --depth == 0) {
				lx->i++;
				break;
			}
			lx->i++;
		}
	}
}

static bool
is_tspecial(uint8_t c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL && c != '\0';
}

/* RFC 2045 token (8-bit octets tolerated). Returns its length. */
static size_t
lex_token(struct lex *lx, const uint8_t **tok_r)
{
	size_t s = lx->i;

	while (lx->i < lx->len && lx->p[lx->i] > 32 && lx->p[lx->i] != 127 &&
	    !is_tspecial(lx->p[lx->i]))
		lx->i++;
	*tok_r = lx->p + s;
	return lx->i - s;
}

/* A parameter value: a quoted-string (unescaped) or a lenient token that
 * runs to ';' or white space. The result is a new allocation. */
static uint8_t *
lex_value(struct lex *lx, size_t *len_r, bool *quoted_r)
{
	uint8_t *v;
	size_t n = 0, s;

	*quoted_r = false;
	if (lx->i < lx->len && lx->p[lx->i] == '"') {
		*quoted_r = true;
		lx->i++;
		v = xmalloc(lx->len - lx->i + 1);
		while (lx->i < lx->len && lx->p[lx->i] != '"') {
			if (lx->p[lx->i] == '\\' && lx->i + 1 < lx->len)
				lx->i++;
			if (lx->p[lx->i] != '\r' && lx->p[lx->i] != '\n')
				v[n++] = lx->p[lx->i];
			lx->i++;
		}
		if (lx->i < lx->len)
			lx->i++;
		v[n] = '\0';
		*len_r = n;
		return v;
	}
	s = lx->i;
	while (lx->i < lx->len && lx->p[lx->i] != ';' &&
	    !mime_is_space(lx->p[lx->i]) && lx->p[lx->i] != '"')
		lx->i++;
	*len_r = lx->i - s;
	v = xmalloc(*len_r + 1);
	memcpy(v, lx->p + s, *len_r);
	v[*len_r] = '\0';
	return v;
}

/* Skip to just after the next ';' (or to the end). */
static void
skip_param(struct lex *lx)
{
	bool q = false;

	while (lx->i < lx->len) {
		if (q && lx->p[lx->i] == '\\')
			lx->i++;
		else if (lx->p[lx->i] == '"')
			q = !q;
		else if (!q && lx->p[lx->i] == ';') {
			lx->i++;
			return;
		}
		lx->i++;
	}
}

/* Parse "; name=value" pairs into raw. */
static size_t
lex_params(struct lex *lx, struct raw_param *raw)
{
	const uint8_t *tok;
	size_t tl, n = 0, k, j;
	struct raw_param *r;
	int sec;

	for (;;) {
		skip_cfws(lx);
		while (lx->i < lx->len && lx->p[lx->i] == ';') {
			lx->i++;
			skip_cfws(lx);
		}
		if (lx->i >= lx->len || n == RAW_PARAMS_MAX)
			return n;
		tl = lex_token(lx, &tok);
		/* the '*' of RFC 2231 is a token character */
		skip_cfws(lx);
		if (tl == 0 || lx->i >= lx->len || lx->p[lx->i] != '=') {
			skip_param(lx);
			continue;
		}
		lx->i++;
		skip_cfws(lx);
		r = &raw[n];
		memset(r, 0, sizeof(*r));
		r->section = -1;
		if (tok[tl - 1] == '*') {
			r->ext = true;
			tl--;
		}
		/* name*N: a decimal section number, no leading zero */
		for (k = tl; k > 0 && tok[k - 1] >= '0' && tok[k - 1] <= '9';)
			k--;
		if (k >= 2 && k < tl && tok[k - 1] == '*' && tl - k <= 3 &&
		    (tok[k] != '0' || tl - k == 1)) {
			sec = 0;
			for (j = k; j < tl; j++)
				sec = sec * 10 + (tok[j] - '0');
			r->section = sec;
			tl = k - 1;
		}
		r->name = mime_lower_dup(tok, tl);
		r->val = lex_value(lx, &r->len, &r->quoted);
		n++;
		skip_param(lx);
	}
}

static void
pct_decode(struct buf *b, const uint8_t *p, size_t len)
{
	size_t i;
	int h, l;
	uint8_t c;

	for (i = 0; i < len; i++) {
		if (p[i] == '%' && i + 2 < len &&
		    (h = mime_hexval(p[i + 1])) >= 0 &&
		    (l = mime_hexval(p[i + 2])) >= 0) {
			c = (uint8_t)(h << 4 | l);
			(void)buf_append(b, &c, 1);
			i += 2;
		} else
			(void)buf_append(b, p + i, 1);
	}
}

static void
pct_encode(struct buf *b, const uint8_t *p, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3];
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] > 32 && p[i] < 127 && p[i] != '%' && p[i] != '\'' &&
		    p[i] != '*' && !is_tspecial(p[i])) {
			(void)buf_append(b, p + i, 1);
			continue;
		}
		e[0] = '%';
		e[1] = hex[p[i] >> 4];
		e[2] = hex[p[i] & 15];
		(void)buf_append(b, e, 3);
	}
}

static char *
buf_take(struct buf *b, size_t *len_r)
{
	char *s = xmalloc(b->len + 1);

	if (b->len > 0)
		memcpy(s, b->data, b->len);
	s[b->len] = '\0';
	if (len_r != NULL)
		*len_r = b->len;
	return s;
}

/* Split "charset'language'rest" of an extended first section. */
static size_t
split_ext(struct mime_param *pp, const uint8_t *v, size_t len)
{
	const uint8_t *q1, *q2;

	q1 = memchr(v, '\'', len);
	if (q1 == NULL)
		return 0;
	/* UNSAFE: q1 is within v[0..len). */
	q2 = memchr(q1 + 1, '\'', len - (size_t)(q1 - v) - 1);
	if (q2 == NULL)
		return 0;
	if (q1 > v)
		pp->charset = mime_lower_dup(v, (size_t)(q1 - v));
	if (q2 > q1 + 1)
		pp->language = mime_lower_dup(q1 + 1, (size_t)(q2 - q1 - 1));
	return (size_t)(q2 - v) + 1;
}

/* Join the raw params named raw[first].name into pp. */
static void
merge_param(struct raw_param *raw, size_t n, size_t first,
    struct mime_param *pp)
{
	const char *name = raw[first].name;
	struct raw_param *sec[MIME_SECTIONS_MAX];
	struct raw_param *plain = NULL;
	struct buf dec, wire;
	size_t i, nsec = 0, skip;
	bool ext = false;

	memset(sec, 0, sizeof(sec));
	for (i = first; i < n; i++) {
		if (strcmp(raw[i].name, name) != 0)
			continue;
		if (raw[i].section < 0) {
			if (plain == NULL)
				plain = &raw[i];
		} else if (raw[i].section < MIME_SECTIONS_MAX &&
		    sec[raw[i].section] == NULL)
			sec[raw[i].section] = &raw[i];
	}
	if (sec[0] == NULL && plain != NULL) {
		/* no section 0: the plain form wins */
		sec[0] = plain;
		nsec = 1;
	} else {
		/* sections in order, gaps closed (lenient) */
		for (i = 0; i < MIME_SECTIONS_MAX; i++)
			if (sec[i] != NULL)
				sec[nsec++] = sec[i];
	}
	if (nsec == 0) {
		/* only sections past MIME_SECTIONS_MAX: an empty value */
		sec[0] = &raw[first];
		nsec = 1;
	}
	for (i = 0; i < nsec; i++)
		ext |= sec[i]->ext;

	buf_init(&dec, 0);
	buf_init(&wire, 0);
	pp->name = xstrdup(name);
	skip = 0;
	if (sec[0]->ext) {
		skip = split_ext(pp, sec[0]->val, sec[0]->len);
		(void)buf_append(&wire, sec[0]->val, skip);
	} else if (ext)
		(void)buf_append(&wire, "''", 2);
	for (i = 0; i < nsec; i++) {
		const uint8_t *v = sec[i]->val + (i == 0 ? skip : 0);
		size_t vl = sec[i]->len - (i == 0 ? skip : 0);

		if (sec[i]->ext) {
			pct_decode(&dec, v, vl);
			(void)buf_append(&wire, v, vl);
		} else {
			(void)buf_append(&dec, v, vl);
			if (ext)
				pct_encode(&wire, v, vl);
			else
				(void)buf_append(&wire, v, vl);
		}
	}
	pp->wire_value = buf_take(&wire, NULL);
	if (ext) {
		pp->wire_name = xmalloc(strlen(name) + 2);
		memcpy(pp->wire_name, name, strlen(name));
		pp->wire_name[strlen(name)] = '*';
		pp->wire_name[strlen(name) + 1] = '\0';
	} else
		pp->wire_name = xstrdup(name);

	buf_reset(&wire);
	if (ext && pp->charset != NULL) {
		if (mime_charset_to_utf8(pp->charset, dec.data, dec.len,
		    &wire) != 0) {
			buf_reset(&wire);
			(void)buf_append(&wire, dec.data, dec.len);
		}
	} else if (!ext && dec.len >= 2 &&
	    memmem(dec.data, dec.len, "=?", 2) != NULL) {
		/* RFC 2047 words in a parameter: wrong but common */
		(void)mime_header_decode(dec.data, dec.len, &wire);
	} else
		(void)buf_append(&wire, dec.data, dec.len);
	pp->value = buf_take(&wire, &pp->value_len);
	buf_deinit(&dec);
	buf_deinit(&wire);
}

static void
parse_params(struct lex *lx, struct mime_param **params_r, size_t *n_r)
{
	struct raw_param *raw;
	struct mime_param *pp = NULL;
	size_t n, i, j, np = 0;

	raw = xcalloc(RAW_PARAMS_MAX, sizeof(*raw));
	n = lex_params(lx, raw);
	for (i = 0; i < n && np < MIME_PARAMS_MAX; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(raw[j].name, raw[i].name) == 0)
				break;
		if (j < i)
			continue;	/* merged already */
		if (pp == NULL)
			pp = xcalloc(MIME_PARAMS_MAX, sizeof(*pp));
		merge_param(raw, n, i, &pp[np++]);
	}
	for (i = 0; i < n; i++) {
		free(raw[i].name);
		free(raw[i].val);
	}
	free(raw);
	*params_r = pp;
	*n_r = np;
}

void
mime_params_free(struct mime_param *params, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(params[i].name);
		free(params[i].value);
		free(params[i].wire_name);
		free(params[i].wire_value);
		free(params[i].charset);
		free(params[i].language);
	}
	free(params);
}

const struct mime_param *
mime_param_find(const struct mime_param *params, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(params[i].name, name) == 0)
			return &params[i];
	return NULL;
}

static void
set_default_type(struct mime_part *part, bool digest_child)
{
	free(part->type);
	free(part->subtype);
	part->type = xstrdup(digest_child ? "message" : "text");
	part->subtype = xstrdup(digest_child ? "rfc822" : "plain");
}

static void
parse_type(struct mime_part *part, const struct mime_header *h,
    bool digest_child)
{
	struct lex lx = { h->value, h->value_len, 0 };
	const uint8_t *t, *s;
	size_t tl, sl;

	skip_cfws(&lx);
	tl = lex_token(&lx, &t);
	skip_cfws(&lx);
	if (tl == 0 || lx.i >= lx.len || lx.p[lx.i] != '/') {
		set_default_type(part, digest_child);
		return;
	}
	lx.i++;
	skip_cfws(&lx);
	sl = lex_token(&lx, &s);
	if (sl == 0) {
		set_default_type(part, digest_child);
		return;
	}
	part->type = mime_lower_dup(t, tl);
	part->subtype = mime_lower_dup(s, sl);
	parse_params(&lx, &part->params, &part->nparams);
}

static void
parse_disposition(struct mime_part *part, const struct mime_header *h)
{
	struct lex lx = { h->value, h->value_len, 0 };
	const uint8_t *t;
	size_t tl;

	skip_cfws(&lx);
	tl = lex_token(&lx, &t);
	if (tl == 0)
		return;
	part->disposition = mime_lower_dup(t, tl);
	parse_params(&lx, &part->disp_params, &part->ndisp_params);
}

static void
parse_language(struct mime_part *part, const struct mime_header *h)
{
	struct lex lx = { h->value, h->value_len, 0 };
	const uint8_t *t;
	size_t tl;

	for (;;) {
		skip_cfws(&lx);
		while (lx.i < lx.len && lx.p[lx.i] == ',') {
			lx.i++;
			skip_cfws(&lx);
		}
		if (lx.i >= lx.len || part->nlanguages >= MIME_PARAMS_MAX)
			return;
		tl = lex_token(&lx, &t);
		if (tl == 0)
			return;
		part->languages = xreallocarray(part->languages,
		    part->nlanguages + 1, sizeof(*part->languages));
		part->languages[part->nlanguages++] = mime_lower_dup(t, tl);
	}
}

static enum mime_cte
parse_cte(struct mime_part *part, const struct mime_header *h)
{
	static const struct {
		const char	*name;
		enum mime_cte	 cte;
	} ctes[] = {
		{ "7bit", MIME_CTE_7BIT },
		{ "8bit", MIME_CTE_8BIT },
		{ "binary", MIME_CTE_BINARY },
		{ "quoted-printable", MIME_CTE_QP },
		{ "base64", MIME_CTE_BASE64 },
	};
	struct lex lx = { h->value, h->value_len, 0 };
	const uint8_t *t;
	size_t tl, i;
	char *lc;

	skip_cfws(&lx);
	tl = lex_token(&lx, &t);
	if (tl == 0)
		return MIME_CTE_7BIT;
	part->cte_raw = xmalloc(tl + 1);
	memcpy(part->cte_raw, t, tl);
	part->cte_raw[tl] = '\0';
	lc = mime_lower_dup(t, tl);
	for (i = 0; i < sizeof(ctes) / sizeof(ctes[0]); i++)
		if (strcmp(lc, ctes[i].name) == 0) {
			free(lc);
			return ctes[i].cte;
		}
	free(lc);
	return MIME_CTE_UNKNOWN;
}

void
mime_content_parse(const struct mime_message *m, struct mime_part *part,
    bool digest_child)
{
	const struct mime_header *h;
	const struct mime_param *b;

	(void)m;
	if ((h = mime_header_find(part, "content-type")) != NULL)
		parse_type(part, h, digest_child);
	else
		set_default_type(part, digest_child);
	if ((h = mime_header_find(part, "content-transfer-encoding")) != NULL)
		part->cte = parse_cte(part, h);
	if ((h = mime_header_find(part, "content-disposition")) != NULL)
		parse_disposition(part, h);
	if ((h = mime_header_find(part, "content-language")) != NULL)
		parse_language(part, h);
	if ((h = mime_header_find(part, "content-id")) != NULL)
		part->id = mime_unfold_dup(h->value, h->value_len);
	if ((h = mime_header_find(part, "content-description")) != NULL)
		part->description = mime_unfold_dup(h->value, h->value_len);
	if ((h = mime_header_find(part, "content-md5")) != NULL)
		part->md5 = mime_unfold_dup(h->value, h->value_len);
	if ((h = mime_header_find(part, "content-location")) != NULL)
		part->location = mime_unfold_dup(h->value, h->value_len);

	if (strcmp(part->type, "message") == 0 &&
	    strcmp(part->subtype, "rfc822") == 0)
		part->flags |= MIME_PART_MESSAGE;
	if (strcmp(part->type, "multipart") == 0) {
		b = mime_param_find(part->params, part->nparams, "boundary");
		if (b != NULL && strchr(b->wire_name, '*') == NULL &&
		    b->wire_value[0] != '\0' &&
		    strlen(b->wire_value) <= MIME_BOUNDARY_MAX)
			part->boundary = xstrdup(b->wire_value);
	}
}

void
mime_content_free(struct mime_part *part)
{
	size_t i;

	free(part->type);
	free(part->subtype);
	mime_params_free(part->params, part->nparams);
	free(part->cte_raw);
	free(part->boundary);
	free(part->disposition);
	mime_params_free(part->disp_params, part->ndisp_params);
	free(part->id);
	free(part->description);
	free(part->md5);
	free(part->location);
	for (i = 0; i < part->nlanguages; i++)
		free(part->languages[i]);
	free(part->languages);
}
