/* moatctl_spf: "moatctl spf check": evaluate SPF (RFC 7208) for a client
 * address, HELO name and MAIL FROM address, or Sender ID (RFC 4406) with
 * the PRA of a message file, over the resolvers of [dns]. Prints the
 * result keyword first, then the explanation (fail) or the problem
 * (errors), one result per line. Exit 0 whatever the result. */
#include "moatctl_spf.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "dns_config.h"
#include "spf.h"
#include "util.h"

#define SPF_CTL_EXIT_USAGE 2
#define SPF_CTL_MESSAGE_MAX (1024 * 1024)	/* of a --sender-id file */
#define SPF_CTL_PRA_MAX 512

struct ctl_spf {
	bool		 done;
	uv_loop_t	*loop;
};

static void
spf_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: moatctl spf check --ip IP [--helo NAME] [--from ADDR]\n"
	    "           [--sender-id FILE] [--receiver NAME]\n"
	    "           [--default-explanation TEXT]\n"
	    "  --from ADDR       MAIL FROM (\"\" or absent with --helo: the\n"
	    "                    HELO identity, postmaster@NAME)\n"
	    "  --sender-id FILE  Sender ID: check the PRA of the message\n"
	    "Prints RESULT [EXPLANATION]; exits 0 whatever the result.\n");
}

/* Only printable ASCII reaches the terminal. */
static void
print_text(const char *s)
{
	for (; *s != '\0'; s++)
		putchar((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ?
		    *s : '?');
}

static void
on_result(const struct spf_report *r, void *ctx)
{
	struct ctl_spf *st = ctx;
	const char *text = r->result == SPF_FAIL ? r->explanation :
	    (r->result == SPF_TEMPERROR || r->result == SPF_PERMERROR) ?
	    r->problem : NULL;

	fputs(spf_result_name(r->result), stdout);
	if (text != NULL && text[0] != '\0') {
		putchar(' ');
		print_text(text);
	}
	putchar('\n');
	st->done = true;
	uv_stop(st->loop);
}

static int
read_message(const char *path, char **data_r, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	char *data;
	size_t n;

	if (fp == NULL) {
		fprintf(stderr, "moatctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	data = malloc(SPF_CTL_MESSAGE_MAX + 1);
	if (data == NULL) {
		fclose(fp);
		fprintf(stderr, "moatctl: out of memory\n");
		return -1;
	}
	n = fread(data, 1, SPF_CTL_MESSAGE_MAX, fp);
	if (ferror(fp)) {
		fprintf(stderr, "moatctl: %s: read error\n", path);
		fclose(fp);
		free(data);
		return -1;
	}
	(void)fclose(fp);
	data[n] = '\0';
	*data_r = data;
	*len_r = n;
	return 0;
}

static int
spf_check_cmd(const struct config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ip", required_argument, NULL, 'i' },
		{ "helo", required_argument, NULL, 'H' },
		{ "from", required_argument, NULL, 'f' },
		{ "sender-id", required_argument, NULL, 's' },
		{ "receiver", required_argument, NULL, 'r' },
		{ "default-explanation", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char err[256];
	char pra[SPF_CTL_PRA_MAX];
	const char *from = NULL, *msgfile = NULL, *error = NULL;
	struct spf_request rq;
	struct ctl_spf st;
	struct spf_check *chk;
	struct dns *dns;
	uv_loop_t loop;
	int ch;

	memset(&rq, 0, sizeof(rq));
	optind = 0;	/* glibc: restart option parsing */
	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			rq.ip = optarg;
			break;
		case 'H':
			rq.helo = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 's':
			msgfile = optarg;
			break;
		case 'r':
			rq.receiver = optarg;
			break;
		case 'e':
			rq.default_explanation = optarg;
			break;
		case 'h':
			spf_usage(stdout);
			return 0;
		default:
			spf_usage(stderr);
			return SPF_CTL_EXIT_USAGE;
		}
	}
	if (optind != argc || rq.ip == NULL ||
	    (rq.helo == NULL && from == NULL && msgfile == NULL)) {
		spf_usage(stderr);
		return SPF_CTL_EXIT_USAGE;
	}
	if (msgfile != NULL) {
		char *msg;
		size_t len;

		if (read_message(msgfile, &msg, &len) < 0)
			return 1;
		if (spf_pra_extract(msg, len, pra, sizeof(pra), &error) < 0) {
			free(msg);
			/* RFC 4407 step 6: no PRA; Sender ID says PermError */
			printf("permerror no PRA: %s\n", error);
			return 0;
		}
		free(msg);
		rq.identity = SPF_ID_PRA;
		rq.flags |= SPF_F_SENDER_ID;
		rq.sender = pra;
	} else if (from != NULL && from[0] != '\0') {
		rq.identity = SPF_ID_MAILFROM;
		rq.sender = from;
	} else {
		if (rq.helo == NULL) {
			fprintf(stderr, "moatctl: the null sender needs --helo\n");
			return SPF_CTL_EXIT_USAGE;
		}
		rq.identity = from != NULL ? SPF_ID_MAILFROM : SPF_ID_HELO;
		rq.sender = "";
	}

	if (uv_loop_init(&loop) != 0) {
		fprintf(stderr, "moatctl: cannot create the event loop\n");
		return 1;
	}
	dns = dns_new_from_config(&loop, cfg, err, sizeof(err));
	if (dns == NULL) {
		fprintf(stderr, "moatctl: dns: %s\n", err);
		(void)uv_loop_close(&loop);
		return 1;
	}
	memset(&st, 0, sizeof(st));
	st.loop = &loop;
	chk = spf_check_start(&loop, dns, &rq, on_result, &st, &error);
	if (chk == NULL) {
		fprintf(stderr, "moatctl: spf: %s\n", error);
		dns_free(&dns);
		(void)uv_run(&loop, UV_RUN_DEFAULT);
		(void)uv_loop_close(&loop);
		return SPF_CTL_EXIT_USAGE;
	}
	while (!st.done)
		(void)uv_run(&loop, UV_RUN_ONCE);
	dns_free(&dns);
	(void)uv_run(&loop, UV_RUN_DEFAULT);	/* the handles' closes */
	if (uv_loop_close(&loop) != 0)
		fprintf(stderr, "moatctl: warning: event loop not empty\n");
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "moatctl: write error\n");
		return 1;
	}
	return 0;
}

int
moatctl_spf(const struct config *cfg, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "help") == 0) {
		spf_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? SPF_CTL_EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "check") == 0)
		return spf_check_cmd(cfg, argc - 1, argv + 1);
	fprintf(stderr, "moatctl: unknown spf command: %s\n", argv[1]);
	spf_usage(stderr);
	return SPF_CTL_EXIT_USAGE;
}
