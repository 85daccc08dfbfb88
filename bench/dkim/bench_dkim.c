/* bench_dkim: DKIM sign and verify throughput on one core, RSA-2048 and
 * Ed25519, on a 4 KB message, through the same API the daemon uses
 * (signer loaded once; verify with the key record text, as after the DNS
 * answer). Prints "ALG OP RATE WALLRATE HASHRATE" lines for
 * bench/dkim/run.sh: operations per second of thread CPU time (what
 * `openssl speed` divides by, see run.sh), the same per second of wall
 * time, and one-shot SHA-256 passes per CPU second over the same message
 * (the signed one for verify): the hashing any DKIM operation on it must
 * do on top of the signature. Usage: bench_dkim [SECONDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "buf.h"
#include "dkim.h"

#define BENCH_MSG_SIZE		4096
#define BENCH_SECONDS_DEFAULT	3
#define BENCH_BATCH		16	/* operations between clock reads */

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		abort();
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this thread, user and system: a little more than the user
 * time `openssl speed` counts, so never in moat's favour. */
static double
now_s(void)
{
	return clock_s(CLOCK_THREAD_CPUTIME_ID);
}

static double
wall_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/* One-shot SHA-256 passes over p per CPU second. */
static double
hash_rate(const void *p, size_t len, double seconds)
{
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
	unsigned char out[EVP_MAX_MD_SIZE];
	unsigned int outlen;
	unsigned long n = 0;
	double t0, t;
	size_t i;

	if (md == NULL)
		abort();
	t0 = now_s();
	do {
		for (i = 0; i < BENCH_BATCH; i++)
			if (EVP_Digest(p, len, out, &outlen, md, NULL) != 1)
				abort();
		n += BENCH_BATCH;
	} while ((t = now_s() - t0) < seconds);
	EVP_MD_free(md);
	return (double)n / t;
}

static void
make_message(struct buf *m)
{
	size_t line = 0;

	if (buf_append_str(m, "From: Alice <alice@bench.example>\r\n"
	    "To: Bob <bob@bench.example>\r\n"
	    "Subject: benchmark message\r\n"
	    "Date: Mon, 1 Jan 2024 12:00:00 +0000\r\n"
	    "Message-ID: <bench-1@bench.example>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n") < 0)
		abort();
	while (m->len < BENCH_MSG_SIZE - 80)
		if (buf_printf(m, "Line %zu of the body,  with  some   "
		    "spacing and text to canonicalize.\r\n", line++) < 0)
			abort();
}

static void
bench(const char *name, enum dkim_keytype type, double seconds)
{
	struct dkim_signer *s;
	struct buf msg, sig, signed_msg;
	const char *error, *rec;
	struct buf recb;
	char *pem;
	double t0, t, w0;
	unsigned long n;
	size_t i;

	buf_init(&msg, 0);
	make_message(&msg);
	if (dkim_keygen(type, &pem, &error) < 0 ||
	    (s = dkim_signer_new("bench.example", "sel", pem, strlen(pem),
	    &error)) == NULL) {
		fprintf(stderr, "bench_dkim: %s\n", error);
		exit(1);
	}
	buf_init(&recb, 0);
	if (dkim_key_record(pem, strlen(pem), &recb, &error) < 0 ||
	    buf_cstr(&recb, &rec) < 0)
		abort();
	free(pem);

	buf_init(&sig, 0);
	n = 0;
	w0 = wall_s();
	t0 = now_s();
	do {
		for (i = 0; i < BENCH_BATCH; i++) {
			buf_reset(&sig);
			if (dkim_sign_message(&s, 1, msg.data, msg.len,
			    1700000000, &sig, &error) < 0)
				abort();
		}
		n += BENCH_BATCH;
	} while ((t = now_s() - t0) < seconds);
	printf("%s sign %.1f %.1f %.1f\n", name, (double)n / t,
	    (double)n / (wall_s() - w0), hash_rate(msg.data, msg.len, 1));

	buf_init(&signed_msg, 0);
	if (buf_append(&signed_msg, sig.data, sig.len) < 0 ||
	    buf_append(&signed_msg, msg.data, msg.len) < 0)
		abort();
	n = 0;
	w0 = wall_s();
	t0 = now_s();
	do {
		for (i = 0; i < BENCH_BATCH; i++) {
			struct dkim_verify *v = dkim_verify_new(NULL);

			dkim_verify_feed(v, signed_msg.data, signed_msg.len);
			(void)dkim_verify_end(v);
			dkim_verify_set_key(v, 0, rec, strlen(rec));
			if (dkim_verify_result(v, 0)->status != DKIM_PASS)
				abort();
			dkim_verify_free(&v);
		}
		n += BENCH_BATCH;
	} while ((t = now_s() - t0) < seconds);
	printf("%s verify %.1f %.1f %.1f\n", name, (double)n / t,
	    (double)n / (wall_s() - w0),
	    hash_rate(signed_msg.data, signed_msg.len, 1));
	fflush(stdout);
	buf_deinit(&signed_msg);
	buf_deinit(&sig);
	buf_deinit(&recb);
	buf_deinit(&msg);
	dkim_signer_free(&s);
}

int
main(int argc, char **argv)
{
	double seconds = BENCH_SECONDS_DEFAULT;

	if (argc > 1) {
		char *end;

		seconds = strtod(argv[1], &end);
		if (*end != '\0' || seconds <= 0 || seconds > 600) {
			fprintf(stderr, "usage: bench_dkim [SECONDS]\n");
			return 2;
		}
	}
	bench("rsa2048", DKIM_KEY_RSA, seconds);
	bench("ed25519", DKIM_KEY_ED25519, seconds);
	return 0;
}
