/* moatctl_dmarc: "moatctl dmarc check FILE --ip IP --helo NAME --from
 * ADDR" runs SPF (MAIL FROM, or HELO for the null sender), DKIM and ARC
 * verification and then DMARC (RFC 7489) through the [dns] resolvers,
 * and prints one result per line:
 *
 *	spf <result> <domain>
 *	dkim <result> <d>			(per signature)
 *	arc <result>				(when ARC fields exist)
 *	alignment spf=<yes|no> dkim=<yes|no>
 *	dmarc <result> policy=<p> disposition=<d>
 *
 * "moatctl dmarc arc-seal FILE --domain D" verifies the ARC chain of the
 * message and prints it with a new ARC set made with D's first enabled
 * DKIM key (the AAR holds our arc= result). Message files may have LF or
 * CRLF line ends; "-" is standard input.
 *
 * "moatctl dmarc report [--send] [DOMAIN]" builds the aggregate reports
 * of the rows recorded so far (authn/dmarc_report.h): without --send it
 * prints their XML and where they would go, with --send it queues them
 * now and deletes the rows they cover. */
#include "moatctl_dmarc.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "authn/arc.h"
#include "authn/authres.h"
#include "authn/dkim.h"
#include "authn/dmarc.h"
#include "authn/dmarc_report.h"
#include "authn/spf.h"
#include "buf.h"
#include "dns_config.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define DMARC_CTL_FILE_MAX	(64 * 1024 * 1024)	/* message file */
#define DMARC_CTL_EXIT_USAGE	2

struct ctl_run {
	uv_loop_t	 loop;
	struct dns	*dns;
	unsigned	 pending;	/* checks not finished */
	enum spf_result	 spf;
	struct dmarc_result dmarc;
};

static void
usage(FILE *fp)
{
	fputs("usage: moatctl dmarc check FILE|- --ip IP --helo NAME "
	    "--from ADDR\n"
	    "       moatctl dmarc arc-seal FILE|- --domain DOMAIN\n"
	    "       moatctl dmarc report [--send] [DOMAIN]\n"
	    "check prints spf, dkim (per signature), arc (if present), "
	    "alignment and\ndmarc lines; --from \"\" is the null sender "
	    "(SPF of the HELO name).\narc-seal prints the message with a "
	    "new ARC set (DOMAIN's DKIM key).\nreport prints the DMARC "
	    "aggregate reports of the rows kept so far;\n--send queues "
	    "them to the rua= addresses and deletes the rows.\n", fp);
}

/* The message into b, LF (not after CR) read as CRLF. */
static int
read_message(const char *path, struct buf *b)
{
	bool is_stdin = strcmp(path, "-") == 0;
	FILE *fp;
	int c, prev = 0, ret = 0;

	if ((fp = is_stdin ? stdin : fopen(path, "rb")) == NULL) {
		fprintf(stderr, "moatctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf_init(b, DMARC_CTL_FILE_MAX);
	while ((c = getc(fp)) != EOF) {
		uint8_t cr = '\r', ch = (uint8_t)c;

		if ((c == '\n' && prev != '\r' && buf_append(b, &cr, 1) < 0) ||
		    buf_append(b, &ch, 1) < 0) {
			fprintf(stderr, "moatctl: %s: too big\n", path);
			ret = -1;
			break;
		}
		prev = c;
	}
	if (ret == 0 && ferror(fp)) {
		fprintf(stderr, "moatctl: %s: %s\n", path, strerror(errno));
		ret = -1;
	}
	if (!is_stdin)
		(void)fclose(fp);
	if (ret < 0)
		buf_deinit(b);
	return ret;
}

static int
run_open(struct ctl_run *r, const struct config *cfg)
{
	char err[256];

	memset(r, 0, sizeof(*r));
	if (uv_loop_init(&r->loop) != 0) {
		fprintf(stderr, "moatctl: cannot create the event loop\n");
		return -1;
	}
	if ((r->dns = dns_new_from_config(&r->loop, cfg, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "moatctl: dns: %s\n", err);
		(void)uv_loop_close(&r->loop);
		return -1;
	}
	return 0;
}

static void
run_wait(struct ctl_run *r)
{
	while (r->pending > 0 && uv_run(&r->loop, UV_RUN_ONCE) != 0)
		;
}

static void
run_close(struct ctl_run *r)
{
	dns_free(&r->dns);
	(void)uv_run(&r->loop, UV_RUN_DEFAULT);	/* handle close callbacks */
	if (uv_loop_close(&r->loop) != 0)
		fprintf(stderr, "moatctl: warning: event loop not empty\n");
}

static void
on_spf(const struct spf_report *rep, void *ctx)
{
	struct ctl_run *r = ctx;

	r->spf = rep->result;
	r->pending--;
}

static void
on_dkim(struct dkim_verify *v, void *ctx)
{
	(void)v;
	((struct ctl_run *)ctx)->pending--;
}

static void
on_arc(struct arc_verify *v, void *ctx)
{
	(void)v;
	((struct ctl_run *)ctx)->pending--;
}

static void
on_dmarc(const struct dmarc_result *res, void *ctx)
{
	struct ctl_run *r = ctx;

	r->dmarc = *res;
	r->pending--;
}

/* Start ARC verification of msg; *present: the message has ARC fields.
 * Returns the verifier (never NULL). */
static struct arc_verify *
arc_start(struct ctl_run *r, const struct buf *msg, bool *present)
{
	struct arc_verify *v = arc_verify_new();
	struct arc_result ar;
	size_t n;

	arc_verify_feed(v, msg->data, msg->len);
	n = arc_verify_end(v);
	if (n == 0) {
		arc_verify_result(v, &ar);
		*present = ar.status != ARC_NONE;
	} else
		*present = true;
	if (arc_verify_lookup(v, r->dns, on_arc, r) == 1)
		r->pending++;
	return v;
}

static int
dmarc_check_cmd(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ip", required_argument, NULL, 'i' },
		{ "helo", required_argument, NULL, 'H' },
		{ "from", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ip = NULL, *helo = NULL, *from = NULL, *error = NULL;
	char from_domain[DMARC_DOMAIN_MAX + 1];
	struct dkim_result *dres = NULL;
	struct spf_request rq;
	struct dmarc_auth in;
	struct arc_verify *av;
	struct arc_result ar;
	struct dkim_verify *dv;
	struct spf_check *sc;
	struct ctl_run r;
	struct buf msg;
	bool arc_present;
	size_t i, n;
	int ch, fr;

	optind = 0;	/* glibc: reinitialise after main()'s getopt */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			ip = optarg;
			break;
		case 'H':
			helo = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		default:
			usage(stderr);
			return DMARC_CTL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || ip == NULL || helo == NULL ||
	    from == NULL) {
		usage(stderr);
		return DMARC_CTL_EXIT_USAGE;
	}
	if (read_message(argv[optind], &msg) < 0)
		return 1;
	if (run_open(&r, cfg) < 0) {
		buf_deinit(&msg);
		return 1;
	}

	/* SPF, DKIM and ARC at once. */
	memset(&rq, 0, sizeof(rq));
	rq.ip = ip;
	rq.helo = helo;
	rq.sender = from;
	rq.identity = from[0] != '\0' ? SPF_ID_MAILFROM : SPF_ID_HELO;
	rq.receiver = cfg->hostname;
	r.spf = SPF_NONE;
	if ((sc = spf_check_start(&r.loop, r.dns, &rq, on_spf, &r,
	    &error)) == NULL) {
		fprintf(stderr, "moatctl: spf: %s\n", error);
		buf_deinit(&msg);
		run_close(&r);
		return DMARC_CTL_EXIT_USAGE;
	}
	r.pending++;
	dv = dkim_verify_new(NULL);
	dkim_verify_feed(dv, msg.data, msg.len);
	n = dkim_verify_end(dv);
	if (dkim_verify_lookup(dv, r.dns, on_dkim, &r) == 1)
		r.pending++;
	av = arc_start(&r, &msg, &arc_present);
	run_wait(&r);

	/* Then DMARC. */
	if (n > 0)
		dres = calloc(n, sizeof(*dres));
	for (i = 0; dres != NULL && i < n; i++)
		dres[i] = *dkim_verify_result(dv, i);
	memset(&in, 0, sizeof(in));
	fr = dmarc_from_domain(msg.data, msg.len, from_domain,
	    sizeof(from_domain), &error);
	in.from_domain = fr == 0 ? from_domain : NULL;
	in.from_error = fr < 0 ? error : "no From domain";
	in.spf = r.spf;
	in.spf_domain = dmarc_spf_domain(from, helo);
	in.dkim = dres;
	in.ndkim = dres != NULL ? n : 0;
	in.pct_roll = -1;
	if (dmarc_check_start(&r.loop, r.dns, &in, on_dmarc, &r) == NULL) {
		fprintf(stderr, "moatctl: dmarc: cannot start\n");
		r.dmarc.status = DMARC_TEMPERROR;
	} else {
		r.pending++;
		run_wait(&r);
	}

	printf("spf %s %s\n", spf_result_name(r.spf),
	    in.spf_domain[0] != '\0' ? in.spf_domain : "-");
	for (i = 0; i < n; i++) {
		const struct dkim_result *d = dkim_verify_result(dv, i);

		printf("dkim %s %s\n", dkim_status_name(d->status),
		    d->domain[0] != '\0' ? d->domain : "-");
	}
	if (arc_present) {
		arc_verify_result(av, &ar);
		printf("arc %s\n", arc_status_name(ar.status));
	}
	printf("alignment spf=%s dkim=%s\n", r.dmarc.spf_aligned ? "yes" :
	    "no", r.dmarc.dkim_aligned ? "yes" : "no");
	printf("dmarc %s policy=%s disposition=%s\n",
	    dmarc_status_name(r.dmarc.status), r.dmarc.has_record ?
	    dmarc_policy_name(r.dmarc.policy) : "none",
	    dmarc_disposition_name(r.dmarc.disposition));
	free(dres);
	dkim_verify_free(&dv);
	arc_verify_free(&av);
	buf_deinit(&msg);
	run_close(&r);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "moatctl: write error\n");
		return 1;
	}
	return 0;
}

struct seal_key {
	struct dkim_signer *s;
	int		 errors;
};

/* rows: domain, selector, algorithm, enabled, created, key_pem */
static void
seal_row(void *ctx, const char *const *cols, int ncols)
{
	struct seal_key *k = ctx;
	const char *error;

	if (ncols < 6 || k->s != NULL)
		return;
	if ((k->s = dkim_signer_new(cols[0], cols[1], cols[5],
	    strlen(cols[5]), &error)) == NULL) {
		fprintf(stderr, "moatctl: key %s for %s: %s\n", cols[1],
		    cols[0], error);
		k->errors++;
	}
}

static int
dmarc_arc_seal_cmd(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *domain = NULL, *error;
	struct authres_input ai;
	struct seal_key k = { NULL, 0 };
	struct arc_verify *av;
	struct arc_result ar;
	struct store *st;
	struct ctl_run r;
	struct buf msg, out, val;
	bool present;
	int ch, ret = 1, sr;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'd') {
			usage(stderr);
			return DMARC_CTL_EXIT_USAGE;
		}
		domain = optarg;
	}
	if (domain == NULL || optind + 1 != argc) {
		usage(stderr);
		return DMARC_CTL_EXIT_USAGE;
	}
	if (store_open(cfg->data_dir, &st, &error) < 0) {
		fprintf(stderr, "moatctl: %s\n", error);
		return 1;
	}
	if (store_dkim_key_list(st, domain, true, seal_row, &k) < 0 ||
	    k.s == NULL) {
		if (k.errors == 0)
			fprintf(stderr, "moatctl: no enabled DKIM key for "
			    "%s\n", domain);
		store_close(&st);
		return 1;
	}
	store_close(&st);
	if (read_message(argv[optind], &msg) < 0) {
		dkim_signer_free(&k.s);
		return 1;
	}
	if (run_open(&r, cfg) < 0) {
		buf_deinit(&msg);
		dkim_signer_free(&k.s);
		return 1;
	}
	av = arc_start(&r, &msg, &present);
	run_wait(&r);
	arc_verify_result(av, &ar);
	arc_verify_free(&av);
	run_close(&r);
	memset(&ai, 0, sizeof(ai));
	ai.authserv_id = cfg->hostname;
	ai.arc = present ? &ar : NULL;
	buf_init(&val, AUTHRES_FIELD_MAX);
	buf_init(&out, 0);
	if (authres_value(&ai, &val) < 0 || buf_append(&val, "", 1) < 0) {
		fprintf(stderr, "moatctl: cannot make the AAR value\n");
		goto done;
	}
	sr = arc_seal(k.s, msg.data, msg.len, &ar, (const char *)val.data,
	    time(NULL), &out, &error);
	if (sr < 0) {
		fprintf(stderr, "moatctl: arc: %s\n", error);
		goto done;
	}
	if (sr == 1)
		fprintf(stderr, "moatctl: the chain already failed "
		    "(cv=fail): not sealed\n");
	if (fwrite(out.data, 1, out.len, stdout) != out.len ||
	    fwrite(msg.data, 1, msg.len, stdout) != msg.len ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "moatctl: write error\n");
		goto done;
	}
	ret = 0;
done:
	buf_deinit(&val);
	buf_deinit(&out);
	buf_deinit(&msg);
	dkim_signer_free(&k.s);
	return ret;
}

static int
dmarc_report_cmd(const struct config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "send", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct dmarc_report_stats stats;
	const char *domain = NULL, *error = NULL;
	struct store *st;
	bool send = false;
	int ch, r;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 's') {
			usage(stderr);
			return DMARC_CTL_EXIT_USAGE;
		}
		send = true;
	}
	if (optind + 1 < argc) {
		usage(stderr);
		return DMARC_CTL_EXIT_USAGE;
	}
	if (optind < argc)
		domain = argv[optind];
	if (store_open(cfg->data_dir, &st, &error) < 0) {
		fprintf(stderr, "moatctl: %s\n", error);
		return 1;
	}
	/* What is sent, skipped and why: the admin asked for it. */
	log_set_level(LOG_LEVEL_INFO);
	r = dmarc_report_run(cfg, st, time(NULL) + 1, domain,
	    send ? DMARC_REPORT_SEND : DMARC_REPORT_PRINT, stdout, &stats);
	store_close(&st);
	if (r < 0) {
		fprintf(stderr, "moatctl: dmarc report failed\n");
		return 1;
	}
	fprintf(send ? stdout : stderr, "domains %u %s %u deferred %u "
	    "skipped %u\n", stats.domains, send ? "queued" : "printed",
	    stats.sent, stats.deferred, stats.skipped);
	return stats.deferred > 0 ? 1 : 0;
}

int
moatctl_dmarc(const struct config *cfg, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? DMARC_CTL_EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "check") == 0)
		return dmarc_check_cmd(cfg, argc - 1, argv + 1);
	if (strcmp(argv[1], "arc-seal") == 0)
		return dmarc_arc_seal_cmd(cfg, argc - 1, argv + 1);
	if (strcmp(argv[1], "report") == 0)
		return dmarc_report_cmd(cfg, argc - 1, argv + 1);
	fprintf(stderr, "moatctl: unknown dmarc command: %s\n", argv[1]);
	usage(stderr);
	return DMARC_CTL_EXIT_USAGE;
}
