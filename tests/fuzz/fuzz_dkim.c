/* fuzz_dkim: libFuzzer target for the DKIM parsers and canonicalizers.
 * The first input octet picks the target: the DKIM-Signature tag parser,
 * the key record parser, header and body canonicalization (both
 * algorithms, whole and in small chunks, which must agree with each
 * other and with the line-by-line model of dkim_canon_ref.c), or the whole
 * verifier on the input as a message, with a key record taken from the
 * input's first line. Last, every input is signed with an Ed25519 key
 * and verified again: that must pass. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "authn/dkim_private.h"
#include "buf.h"
#include "dkim.h"
#include "dkim_canon_ref.h"

#define FUZZ_CHUNK	7

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dkim_signer *signer;
static char signer_rec[128];

static void
fuzz_init(void)
{
	const char *error, *s;
	char *pem;
	struct buf b;

	if (signer != NULL)
		return;
	if (dkim_keygen(DKIM_KEY_ED25519, &pem, &error) < 0)
		abort();
	signer = dkim_signer_new("fuzz.example", "sel", pem, strlen(pem),
	    &error);
	buf_init(&b, sizeof(signer_rec) - 1);
	if (signer == NULL || dkim_key_record(pem, strlen(pem), &b,
	    &error) < 0 || buf_cstr(&b, &s) < 0)
		abort();
	memcpy(signer_rec, s, b.len + 1);
	buf_deinit(&b);
	free(pem);
}

static void
body_digest(enum dkim_canon c, const uint8_t *p, size_t n, size_t step,
    uint8_t md[EVP_MAX_MD_SIZE], uint64_t *total)
{
	struct dkim_body *b = malloc(sizeof(*b));
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len;
	size_t off, k;

	if (b == NULL || ctx == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();
	dkim_body_init(b, c, ctx, n > 0, n > 0 ? p[0] : 0);
	for (off = 0; off < n; off += k) {
		k = step == 0 || step > n - off ? n - off : step;
		dkim_body_feed(b, p + off, k);
	}
	if (dkim_body_end(b) < 0 || EVP_DigestFinal_ex(ctx, md, &len) != 1)
		abort();
	*total = b->total;
	EVP_MD_CTX_free(ctx);
	free(b);
}

static void
fuzz_canon(const uint8_t *p, size_t n)
{
	uint8_t a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE], r[EVP_MAX_MD_SIZE];
	uint64_t ta, tb;
	struct buf out;
	uint8_t *ref;
	size_t rlen;
	unsigned int mdlen;
	int c;

	for (c = 0; c < 2; c++) {
		buf_init(&out, 4 * n + 16);
		if (dkim_canon_header(c, (const char *)p, n, true, &out) < 0)
			abort();
		buf_deinit(&out);
		body_digest(c, p, n, 0, a, &ta);
		body_digest(c, p, n, FUZZ_CHUNK, b, &tb);
		if (memcmp(a, b, 32) != 0 || ta != tb)
			abort();
		/* the model, cut at the same l= (body_digest's p[0]) */
		ref = dkim_canon_body_ref(c, p, n, &rlen);
		if (ta != rlen || EVP_Digest(ref, n > 0 && p[0] < rlen ?
		    p[0] : rlen, r, &mdlen, EVP_sha256(), NULL) != 1 ||
		    memcmp(a, r, 32) != 0)
			abort();
		free(ref);
		/* simple output never shrinks below a CRLF; relaxed never
		 * grows past the input plus a CRLF */
		if ((c == DKIM_CANON_SIMPLE && ta < 2) ||
		    (c == DKIM_CANON_RELAXED && ta > (uint64_t)n + 2))
			abort();
	}
}

static void
fuzz_verify(const uint8_t *p, size_t n)
{
	const uint8_t *nl = memchr(p, '\n', n);
	size_t reclen = nl != NULL ? (size_t)(nl - p) : 0, i;
	struct dkim_verify *v = dkim_verify_new(NULL);
	char name[512], ar[DKIM_AR_MAX];

	for (i = 0; i < n; i += FUZZ_CHUNK)
		dkim_verify_feed(v, p + i, n - i < FUZZ_CHUNK ? n - i :
		    FUZZ_CHUNK);
	(void)dkim_verify_end(v);
	for (i = 0; i < dkim_verify_count(v); i++) {
		if (dkim_verify_key_name(v, i, name, sizeof(name)) == 0)
			dkim_verify_set_key(v, i, (const char *)p, reclen);
		if (dkim_ar_format(dkim_verify_result(v, i), ar,
		    sizeof(ar)) < 0)
			abort();
	}
	dkim_verify_free(&v);
}

static void
fuzz_roundtrip(const uint8_t *p, size_t n)
{
	struct dkim_signer *ss[1] = { signer };
	const struct dkim_result *r;
	struct dkim_verify *v;
	const char *error;
	struct buf out;
	size_t i, lines = 0;

	for (i = 0; i < n; i++)
		lines += p[i] == '\n';
	/* A message starting with WSP would continue our field. */
	if (n > 0 && (p[0] == ' ' || p[0] == '\t'))
		return;
	buf_init(&out, 0);
	if (dkim_sign_message(ss, 1, p, n, 1700000000, &out, &error) < 0) {
		buf_deinit(&out);
		return;
	}
	if (buf_append(&out, p, n) < 0)
		abort();
	v = dkim_verify_new(NULL);
	dkim_verify_feed(v, out.data, out.len);
	if (dkim_verify_end(v) < 1)
		abort();
	dkim_verify_set_key(v, 0, signer_rec, strlen(signer_rec));
	r = dkim_verify_result(v, 0);
	if (lines < DKIM_FIELDS_MAX / 2 && r->status != DKIM_PASS)
		abort();
	dkim_verify_free(&v);
	buf_deinit(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_tag tags[DKIM_TAGS_MAX];
	struct dkim_sig *sig;
	struct dkim_key key;
	const char *error;
	const uint8_t *p = data + 1;
	size_t n = size - 1;

	if (size < 1)
		return 0;
	fuzz_init();
	switch (data[0] % 5) {
	case 0:
		if ((sig = malloc(sizeof(*sig))) == NULL)
			abort();
		if (dkim_sig_parse((const char *)p, n, sig, &error) == 0 &&
		    (sig->nhdrs == 0 || sig->nhdrs > DKIM_H_ITEMS_MAX ||
		    sig->b_value_end > n || sig->b_value_start >
		    sig->b_value_end))
			abort();
		free(sig);
		break;
	case 1:
		(void)dkim_key_parse((const char *)p, n, &key, &error);
		break;
	case 2:
		(void)dkim_tags_parse((const char *)p, n, tags, DKIM_TAGS_MAX,
		    &error);
		break;
	case 3:
		fuzz_canon(p, n);
		break;
	default:
		fuzz_verify(p, n);
		break;
	}
	fuzz_roundtrip(p, n);
	return 0;
}
