/* fuzz_sasl: libFuzzer target for sasl.c and scram.c. The first input
 * octet picks the mechanism (bits 0-1), the connection flags (bits 2-4:
 * TLS, plaintext allowed, success data), channel binding data (bit 5)
 * and whether the first line is an initial response (bit 6 clear) or
 * the exchange starts without one. The rest is split at '\n' into
 * client lines. Every reply must satisfy what the protocol layers rely
 * on. The remaining input is also parsed as a stored SCRAM credential. */
#include <crypt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "auth/scram.h"

#define FUZZ_STEPS_MAX	8
/* sha256-crypt at its lowest cost: keeps PLAIN/LOGIN runs fast */
#define FUZZ_SALT	"$5$rounds=1000$saltsalt$"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const mechs[] = {
	"PLAIN", "LOGIN", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS",
};
static char fuzz_hash[256];
static char fuzz_scram[SCRAM_CRED_MAX];

static enum sasl_lookup_result
lookup(void *ctx, const char *user, char *hash, size_t hashlen, char *scram,
    size_t scramlen)
{
	(void)ctx;
	if (strlen(user) == 0 || strlen(user) > SASL_USER_MAX)
		abort();
	/* every name exists, so no dummy yescrypt run slows us down */
	snprintf(hash, hashlen, "%s", fuzz_hash);
	snprintf(scram, scramlen, "%s", user[0] == 'x' ? "" : fuzz_scram);
	return user[0] == 'd' ? SASL_LOOKUP_DISABLED : SASL_LOOKUP_OK;
}

static void
init(void)
{
	static const uint8_t salt[16] = {
		'0', '1', '2', '3', '4', '5', '6', '7',
		'8', '9', 'a', 'b', 'c', 'd', 'e', 'f',
	};
	static struct crypt_data cd;
	struct scram_cred c;
	const char *h;

	/* "pencil" in both forms */
	if (scram_derive_cred("pencil", salt, sizeof(salt), SCRAM_ITER_MIN,
	    &c) < 0 || scram_cred_format(&c, fuzz_scram,
	    sizeof(fuzz_scram)) < 0)
		abort();
	h = crypt_rn("pencil", FUZZ_SALT, &cd, sizeof(cd));
	if (h == NULL || h[0] != '$' ||
	    (size_t)snprintf(fuzz_hash, sizeof(fuzz_hash), "%s", h) >=
	    sizeof(fuzz_hash))
		abort();
}

static void
check_reply(const struct sasl_reply *r, enum sasl_status st)
{
	uint8_t out[SASL_RESPONSE_MAX];
	size_t len;

	if (r->status != st)
		abort();
	switch (st) {
	case SASL_CONTINUE:
		if (r->challenge == NULL || scram_b64_decode(r->challenge,
		    strlen(r->challenge), out, sizeof(out), &len) < 0)
			abort();
		break;
	case SASL_OK:
		if (r->user == NULL || r->user[0] == '\0' ||
		    strlen(r->user) > SASL_USER_MAX ||
		    r->fail != SASL_FAIL_NONE)
			abort();
		break;
	case SASL_FAIL:
		if (r->fail == SASL_FAIL_NONE || r->reason == NULL ||
		    sasl_fail_name(r->fail) == NULL)
			abort();
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool inited;
	struct sasl_lookup lk = { .lookup = lookup };
	struct sasl_cbind cb;
	struct sasl_params p;
	struct sasl_session *s;
	struct sasl_reply r;
	struct scram_cred cred;
	const char *line, *end, *nl;
	char *copy, *initial = NULL;
	enum sasl_status st;
	int steps = 0;
	uint8_t sel;

	if (!inited) {
		init();
		inited = true;
	}
	if (size == 0)
		return 0;
	sel = data[0];
	memset(&cb, 0, sizeof(cb));
	memset(cb.exporter, 0x5a, 32);
	memset(cb.endpoint, 0xa5, 32);
	cb.exporter_len = cb.endpoint_len = 32;
	memset(&p, 0, sizeof(p));
	p.flags = (sel >> 2) & 7;
	p.lookup = &lk;
	p.cbind = (sel & 0x20) != 0 ? &cb : NULL;

	/* an exactly sized, NUL-terminated copy of the lines */
	copy = malloc(size);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	line = copy;
	end = copy + size - 1;

	s = sasl_new(&p);
	sasl_test_set_nonce(s, "fuzznonce");
	if ((sel & 0x40) == 0) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			nl = end;
		initial = malloc((size_t)(nl - line) + 1);
		if (initial == NULL)
			abort();
		memcpy(initial, line, (size_t)(nl - line));
		initial[nl - line] = '\0';
		line = nl < end ? nl + 1 : end;
	}
	st = sasl_start(s, mechs[sel & 3], initial, &r);
	check_reply(&r, st);
	while (st == SASL_CONTINUE && steps++ < FUZZ_STEPS_MAX) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			nl = end;
		st = sasl_step(s, line, (size_t)(nl - line), &r);
		check_reply(&r, st);
		if (nl == end)
			break;
		line = nl + 1;
	}
	/* a finished session only fails */
	if (st != SASL_CONTINUE) {
		st = sasl_step(s, "", 0, &r);
		if (st != SASL_FAIL)
			abort();
	}
	sasl_free(&s);
	free(initial);

	(void)scram_cred_parse(copy, &cred);
	free(copy);
	return 0;
}
