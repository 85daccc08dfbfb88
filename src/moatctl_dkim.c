/* moatctl_dkim: "moatctl dkim keygen|show|enable|disable|del|verify|sign".
 * Keys live in the store (dkim_keys: the private key PEM inside moat.db,
 * which is 0600 and owned by the service user); keygen and show print the
 * TXT record to publish. verify checks every DKIM-Signature of a message
 * file, looking keys up through the [dns] resolvers; sign prints a message
 * signed with the enabled keys of a domain. Message files may have LF or
 * CRLF line ends; LF is read as CRLF. */
#include "moatctl_dkim.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "authn/dkim.h"
#include "buf.h"
#include "dns_config.h"
#include "store.h"
#include "util.h"
#include "xalloc.h"

#define DKIM_CTL_FILE_MAX	(64 * 1024 * 1024)	/* message file */
#define DKIM_CTL_TXT_STRING	255	/* RFC 1035 3.3 character-string */
#define DKIM_CTL_SELECTOR_MAX	64
#define DKIM_CTL_KEYS_MAX	16	/* signatures per domain in sign */
#define EXIT_USAGE 2

static void
usage(FILE *fp)
{
	fputs("usage: moatctl dkim keygen DOMAIN [--selector S] [--ed25519]\n"
	    "       moatctl dkim show\n"
	    "       moatctl dkim enable|disable|del DOMAIN SELECTOR\n"
	    "       moatctl dkim verify FILE|-\n"
	    "       moatctl dkim sign FILE|- --domain DOMAIN [--canon H/B]\n"
	    "keygen makes an RSA 2048 (or Ed25519) key and prints the TXT "
	    "record to\npublish; show prints the records of all keys; "
	    "verify prints one line per\nsignature: domain, selector, "
	    "result (reason).\n", fp);
}

/* Print "sel._domainkey.domain. IN TXT "..." "..."" (255-octet strings). */
static void
print_record(const char *domain, const char *selector, const char *rec,
    bool enabled)
{
	size_t len = strlen(rec), off, n;

	printf("%s._domainkey.%s. IN TXT", selector, domain);
	for (off = 0; off < len; off += n) {
		n = len - off > DKIM_CTL_TXT_STRING ? DKIM_CTL_TXT_STRING :
		    len - off;
		printf(" \"%.*s\"", (int)n, rec + off);
	}
	printf("%s\n", enabled ? "" : " ; disabled");
}

static struct store *
open_store(const struct config *cfg)
{
	struct store *st;
	const char *err;

	if (store_open(cfg->data_dir, &st, &err) < 0) {
		fprintf(stderr, "moatctl: %s\n", err);
		return NULL;
	}
	return st;
}

static int
dkim_keygen_cmd(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "selector", required_argument, NULL, 's' },
		{ "ed25519", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	char selector[DKIM_CTL_SELECTOR_MAX], *pem = NULL;
	enum dkim_keytype type = DKIM_KEY_RSA;
	const char *domain, *error, *rec;
	struct store *st;
	struct buf b;
	struct tm tm;
	time_t now = time(NULL);
	int ch, ret = 1;

	selector[0] = '\0';
	optind = 0;	/* glibc: reinitialise after main()'s getopt */
	while ((ch = getopt_long(argc, argv, "s:e", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (moat_strlcpy(selector, optarg, sizeof(selector)) >=
			    sizeof(selector)) {
				fprintf(stderr, "moatctl: selector too long\n");
				return EXIT_USAGE;
			}
			break;
		case 'e':
			type = DKIM_KEY_ED25519;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	domain = argv[optind];
	if (selector[0] == '\0') {
		/* "moat" + year and month: a new key gets a new name. */
		if (gmtime_r(&now, &tm) == NULL || strftime(selector,
		    sizeof(selector), "moat%Y%m", &tm) == 0) {
			fprintf(stderr, "moatctl: cannot make a selector\n");
			return 1;
		}
	}
	if (dkim_keygen(type, &pem, &error) < 0) {
		fprintf(stderr, "moatctl: %s\n", error);
		return 1;
	}
	buf_init(&b, 0);
	if (dkim_key_record(pem, strlen(pem), &b, &error) < 0 ||
	    buf_cstr(&b, &rec) < 0) {
		fprintf(stderr, "moatctl: %s\n", error);
		goto done;
	}
	if ((st = open_store(cfg)) == NULL)
		goto done;
	if (store_dkim_key_add(st, domain, selector, type == DKIM_KEY_RSA ?
	    "rsa-sha256" : "ed25519-sha256", pem, &error) < 0) {
		fprintf(stderr, "moatctl: %s\n", error);
		store_close(&st);
		goto done;
	}
	store_close(&st);
	{
		char d[DKIM_DOMAIN_MAX + 1];

		moat_strlcpy(d, domain, sizeof(d));
		ascii_lower(d);
		ascii_lower(selector);
		print_record(d, selector, rec, true);
	}
	ret = 0;
done:
	buf_deinit(&b);
	explicit_bzero(pem, strlen(pem));
	free(pem);
	return ret;
}

struct show_ctx {
	int	 errors;
};

/* rows: domain, selector, algorithm, enabled, created, key_pem */
static void
show_row(void *ctx, const char *const *cols, int ncols)
{
	struct show_ctx *sc = ctx;
	const char *error, *rec;
	struct buf b;

	if (ncols < 6)
		return;
	buf_init(&b, 0);
	if (dkim_key_record(cols[5], strlen(cols[5]), &b, &error) < 0 ||
	    buf_cstr(&b, &rec) < 0) {
		fprintf(stderr, "moatctl: %s %s: %s\n", cols[0], cols[1],
		    error);
		sc->errors++;
	} else
		print_record(cols[0], cols[1], rec, strcmp(cols[3], "1") == 0);
	buf_deinit(&b);
}

static int
dkim_show_cmd(const struct config *cfg, int argc, char **argv)
{
	struct show_ctx sc = { 0 };
	struct store *st;
	int r;

	(void)argv;
	if (argc != 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((st = open_store(cfg)) == NULL)
		return 1;
	r = store_dkim_key_list(st, NULL, false, show_row, &sc);
	store_close(&st);
	return r < 0 || sc.errors > 0 ? 1 : 0;
}

static int
dkim_change_cmd(const struct config *cfg, int argc, char **argv)
{
	const char *error;
	struct store *st;
	int r;

	if (argc != 3) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((st = open_store(cfg)) == NULL)
		return 1;
	if (strcmp(argv[0], "del") == 0)
		r = store_dkim_key_del(st, argv[1], argv[2], &error);
	else
		r = store_dkim_key_enable(st, argv[1], argv[2],
		    strcmp(argv[0], "enable") == 0, &error);
	store_close(&st);
	if (r < 0) {
		fprintf(stderr, "moatctl: %s\n", error);
		return 1;
	}
	return 0;
}

/* Read a message file ("-": standard input) into b, LF (not after CR)
 * turned into CRLF. moatctl has dropped privileges by now: the file must
 * be readable by the service user. */
static int
read_message(const char *path, struct buf *b)
{
	bool is_stdin = strcmp(path, "-") == 0;
	FILE *fp;
	int c, prev = 0;

	if ((fp = is_stdin ? stdin : fopen(path, "rb")) == NULL) {
		fprintf(stderr, "moatctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf_init(b, DKIM_CTL_FILE_MAX);
	while ((c = getc(fp)) != EOF) {
		uint8_t cr = '\r', ch = (uint8_t)c;

		if ((c == '\n' && prev != '\r' && buf_append(b, &cr, 1) < 0) ||
		    buf_append(b, &ch, 1) < 0) {
			fprintf(stderr, "moatctl: %s: too big\n", path);
			if (!is_stdin)
				fclose(fp);
			buf_deinit(b);
			return -1;
		}
		prev = c;
	}
	if (ferror(fp)) {
		fprintf(stderr, "moatctl: %s: %s\n", path, strerror(errno));
		if (!is_stdin)
			fclose(fp);
		buf_deinit(b);
		return -1;
	}
	if (!is_stdin)
		fclose(fp);
	return 0;
}

static void
verify_done(struct dkim_verify *v, void *ctx)
{
	(void)v;
	*(bool *)ctx = true;
}

static int
dkim_verify_cmd(const struct config *cfg, int argc, char **argv)
{
	char err[256];
	struct dkim_verify *v;
	struct dns *dns;
	struct buf msg;
	uv_loop_t loop;
	bool done = false;
	size_t i, n;
	int ret = 0;

	if (argc != 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (read_message(argv[1], &msg) < 0)
		return 1;
	v = dkim_verify_new(NULL);
	dkim_verify_feed(v, msg.data, msg.len);
	n = dkim_verify_end(v);
	buf_deinit(&msg);
	if (n == 0) {
		printf("no DKIM signature\n");
		dkim_verify_free(&v);
		return 1;
	}
	if (uv_loop_init(&loop) != 0) {
		fprintf(stderr, "moatctl: cannot make an event loop\n");
		dkim_verify_free(&v);
		return 1;
	}
	if ((dns = dns_new_from_config(&loop, cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "moatctl: dns: %s\n", err);
		dkim_verify_free(&v);
		(void)uv_loop_close(&loop);
		return 1;
	}
	if (dkim_verify_lookup(v, dns, verify_done, &done) == 1)
		while (!done && uv_run(&loop, UV_RUN_ONCE) != 0)
			;
	for (i = 0; i < n; i++) {
		const struct dkim_result *r = dkim_verify_result(v, i);

		printf("%s\t%s\t%s%s%s%s\n", r->domain[0] ? r->domain : "-",
		    r->selector[0] ? r->selector : "-",
		    dkim_status_name(r->status), r->reason[0] ? " (" : "",
		    r->reason, r->reason[0] ? ")" : "");
		if (r->status != DKIM_PASS)
			ret = 1;
	}
	dkim_verify_free(&v);
	dns_free(&dns);
	(void)uv_run(&loop, UV_RUN_DEFAULT);	/* handle close callbacks */
	if (uv_loop_close(&loop) != 0)
		fprintf(stderr, "moatctl: event loop not closed cleanly\n");
	return ret;
}

struct sign_keys {
	struct dkim_signer *s[DKIM_CTL_KEYS_MAX];
	size_t		 n;
	enum dkim_canon	 hc;
	enum dkim_canon	 bc;
	int		 errors;
};

static void
sign_row(void *ctx, const char *const *cols, int ncols)
{
	struct sign_keys *k = ctx;
	const char *error;

	if (ncols < 6 || k->n == DKIM_CTL_KEYS_MAX)
		return;
	k->s[k->n] = dkim_signer_new(cols[0], cols[1], cols[5],
	    strlen(cols[5]), &error);
	if (k->s[k->n] == NULL) {
		fprintf(stderr, "moatctl: key %s for %s: %s\n", cols[1],
		    cols[0], error);
		k->errors++;
		return;
	}
	dkim_signer_set_canon(k->s[k->n], k->hc, k->bc);
	k->n++;
}

static int
canon_parse(const char *s, enum dkim_canon *c)
{
	if (strcmp(s, "relaxed") == 0)
		*c = DKIM_CANON_RELAXED;
	else if (strcmp(s, "simple") == 0)
		*c = DKIM_CANON_SIMPLE;
	else
		return -1;
	return 0;
}

static int
dkim_sign_cmd(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "canon", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct sign_keys k;
	const char *domain = NULL, *error;
	struct store *st;
	struct buf msg, out;
	char canon[32], *slash;
	size_t i;
	int ch, ret = 1;

	memset(&k, 0, sizeof(k));
	k.hc = k.bc = DKIM_CANON_RELAXED;
	optind = 0;	/* glibc: reinitialise after main()'s getopt */
	while ((ch = getopt_long(argc, argv, "d:c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			domain = optarg;
			break;
		case 'c':
			moat_strlcpy(canon, optarg, sizeof(canon));
			slash = strchr(canon, '/');
			if (slash != NULL)
				*slash++ = '\0';
			if (canon_parse(canon, &k.hc) < 0 || (slash != NULL &&
			    canon_parse(slash, &k.bc) < 0)) {
				fprintf(stderr, "moatctl: --canon: "
				    "relaxed|simple[/relaxed|simple]\n");
				return EXIT_USAGE;
			}
			if (slash == NULL)
				k.bc = DKIM_CANON_SIMPLE;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (domain == NULL || optind + 1 != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((st = open_store(cfg)) == NULL)
		return 1;
	if (store_dkim_key_list(st, domain, true, sign_row, &k) < 0) {
		fprintf(stderr, "moatctl: cannot list the keys of %s\n",
		    domain);
		store_close(&st);
		goto done;
	}
	store_close(&st);
	if (k.n == 0 || k.errors > 0) {
		if (k.n == 0)
			fprintf(stderr, "moatctl: no enabled DKIM key for "
			    "%s\n", domain);
		goto done;
	}
	if (read_message(argv[optind], &msg) < 0)
		goto done;
	buf_init(&out, 0);
	if (dkim_sign_message(k.s, k.n, msg.data, msg.len, time(NULL), &out,
	    &error) < 0) {
		fprintf(stderr, "moatctl: %s\n", error);
	} else if (fwrite(out.data, 1, out.len, stdout) != out.len ||
	    fwrite(msg.data, 1, msg.len, stdout) != msg.len ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "moatctl: write error: %s\n",
		    strerror(errno));
	} else
		ret = 0;
	buf_deinit(&out);
	buf_deinit(&msg);
done:
	for (i = 0; i < k.n; i++)
		dkim_signer_free(&k.s[i]);
	return ret;
}

int
moatctl_dkim(const struct config *cfg, int argc, char **argv)
{
	const char *cmd;

	if (argc < 2 || strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	cmd = argv[1];
	argc--;
	argv++;
	if (strcmp(cmd, "keygen") == 0)
		return dkim_keygen_cmd(cfg, argc, argv);
	if (strcmp(cmd, "show") == 0)
		return dkim_show_cmd(cfg, argc, argv);
	if (strcmp(cmd, "enable") == 0 || strcmp(cmd, "disable") == 0 ||
	    strcmp(cmd, "del") == 0)
		return dkim_change_cmd(cfg, argc, argv);
	if (strcmp(cmd, "verify") == 0)
		return dkim_verify_cmd(cfg, argc, argv);
	if (strcmp(cmd, "sign") == 0)
		return dkim_sign_cmd(cfg, argc, argv);
	fprintf(stderr, "moatctl: dkim: unknown command %s\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
