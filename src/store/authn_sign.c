/* authn_sign: see authn_sign.h. */
#include "authn_sign.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mime.h"
#include "util.h"
#include "xalloc.h"

struct key_rows {
	struct authn_keys	*k;
	const char		*who;
};

static void
collect_key(void *ctx, const char *const *cols, int ncols)
{
	struct key_rows *kr = ctx;
	struct authn_keys *k = kr->k;
	const char *error = NULL;

	/* domain, selector, algorithm, enabled, created, key_pem */
	if (ncols < 6 || k->n == AUTHN_SIGN_KEYS_MAX)
		return;
	k->s[k->n] = dkim_signer_new(cols[0], cols[1], cols[5],
	    strlen(cols[5]), &error);
	if (k->s[k->n] == NULL)
		log_warnx("event=dkim-key-unusable %s domain=%s selector=%s "
		    "error=\"%s\"", kr->who, cols[0], cols[1], error);
	else
		k->n++;
}

int
authn_keys_load(struct store *st, const char *domain, struct authn_keys *k,
    const char *who)
{
	struct key_rows kr = { k, who };

	memset(k, 0, sizeof(*k));
	return store_dkim_key_list(st, domain, true, collect_key, &kr);
}

void
authn_keys_free(struct authn_keys *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		dkim_signer_free(&k->s[i]);
	k->n = 0;
}

const struct dkim_signer *
authn_keys_rsa(const struct authn_keys *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (strcmp(dkim_signer_algorithm(k->s[i]), "rsa-sha256") == 0)
			return k->s[i];
	return NULL;
}

void
authn_our_ar(const uint8_t *msg, size_t len, const char *host, char *out,
    size_t outlen)
{
	struct mime_message *m = mime_parse(msg, len < AUTHN_SIGN_HEADER_SCAN ?
	    len : AUTHN_SIGN_HEADER_SCAN);
	const struct mime_header *h;
	size_t n, hl = strlen(host);
	struct buf v;

	out[0] = '\0';
	buf_init(&v, outlen > 0 ? outlen - 1 : 0);
	for (n = 0; (h = mime_header_find_nth(m->root,
	    "Authentication-Results", n)) != NULL; n++) {
		const char *s;

		buf_reset(&v);
		if (mime_header_unfold(h->value, h->value_len, &v) < 0 ||
		    buf_cstr(&v, &s) < 0)
			continue;
		while (*s == ' ' || *s == '\t')
			s++;
		if (ascii_nieq(s, host, hl) && (s[hl] == ';' || s[hl] == ' ' ||
		    s[hl] == '\0')) {
			moat_strlcpy(out, s, outlen);
			break;
		}
	}
	buf_deinit(&v);
	mime_message_free(&m);
}

/* Our arc= verdict at reception: a method token, not "xarc=" inside a
 * property value. "none" (no sets came in) and no arc= at all (not
 * checked) are ARC_NONE; anything but pass is a failure. */
static enum arc_status
ar_arc(const char *ar)
{
	const char *s;

	for (s = strstr(ar, "arc="); s != NULL; s = strstr(s + 1, "arc="))
		if (s > ar && (s[-1] == ' ' || s[-1] == ';' || s[-1] == '\t')) {
			if (strncmp(s + 4, "none", 4) == 0)
				return ARC_NONE;
			return strncmp(s + 4, "pass", 4) == 0 ? ARC_PASS :
			    ARC_FAIL;
		}
	return ARC_NONE;
}

struct own_key {
	const char	*selector;
	char		*pem;
};

static void
find_selector(void *ctx, const char *const *cols, int ncols)
{
	struct own_key *ok = ctx;

	if (ncols >= 6 && ok->pem == NULL &&
	    strcmp(cols[1], ok->selector) == 0)
		ok->pem = xstrdup(cols[5]);
}

/* Give v the record of key i when it is one of ours
 * ("sel._domainkey.domain" with the key in the store). */
static void
set_own_key(struct store *st, struct arc_verify *v, size_t i)
{
	const char *name = arc_verify_key_name(v, i), *dk, *error = NULL;
	char selector[DKIM_SELECTOR_MAX + 1];
	struct own_key ok = { selector, NULL };
	struct buf rec;
	size_t sl;

	if (name == NULL || (dk = strstr(name, "._domainkey.")) == NULL ||
	    (sl = (size_t)(dk - name)) == 0 || sl >= sizeof(selector))
		return;
	memcpy(selector, name, sl);
	selector[sl] = '\0';
	if (store_dkim_key_list(st, dk + strlen("._domainkey."), false,
	    find_selector, &ok) < 0 || ok.pem == NULL)
		return;
	buf_init(&rec, 0);
	if (dkim_key_record(ok.pem, strlen(ok.pem), &rec, &error) == 0)
		arc_verify_set_key(v, i, (const char *)rec.data, rec.len);
	buf_deinit(&rec);
	free(ok.pem);
}

int
authn_arc_seal(struct store *st, const struct dkim_signer *rsa,
    const uint8_t *msg, size_t len, const char *ar, struct buf *out,
    unsigned *instance_r, enum arc_status *cv_r, const char **error_r)
{
	struct arc_verify *v = arc_verify_new();
	struct arc_result chain;
	enum arc_status seen = ar_arc(ar);
	size_t nkeys, i;

	arc_verify_feed(v, msg, len);
	nkeys = arc_verify_end(v);
	if (seen == ARC_NONE)
		/* No chain came in (or none was checked): every set is one
		 * we added, checked with our own keys. */
		for (i = 0; i < nkeys; i++)
			set_own_key(st, v, i);
	arc_verify_result(v, &chain);
	arc_verify_free(&v);
	if (chain.instance == 0)
		chain.status = ARC_NONE;
	else if (seen != ARC_NONE)
		/* The sets that came in as we saw them; ours since are
		 * ours to trust. */
		chain.status = seen;
	else if (chain.status != ARC_PASS)
		chain.status = ARC_FAIL;
	*instance_r = chain.instance + 1;
	*cv_r = chain.status;
	return arc_seal(rsa, msg, len, &chain, ar, time(NULL), out, error_r);
}
