/* moatctl_screen: "moatctl screen", the admin side of the static
 * screening rules: add and delete allow/deny rules, list them, import
 * a file of them, and test an address, name or envelope against the
 * compiled set exactly as a worker would (screen_rules.h). Every
 * change asks running workers to reload. */
#include "moatctl_screen.h"
#include "moatctl_ban.h"
#include "dynscreen.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "screen_rules.h"
#include "store.h"
#include "store_screen.h"
#include "util.h"

static int
usage(void)
{
	fprintf(stderr, "usage:\n"
	    "  moatctl screen allow|deny add KIND PATTERN [--service LIST] "
	    "[--domain D]\n"
	    "      [--shadow] [--comment TEXT]\n"
	    "  moatctl screen allow|deny del KIND PATTERN [--domain D]\n"
	    "  moatctl screen del ID\n"
	    "  moatctl screen list [allow|deny] [--kind KIND]\n"
	    "  moatctl screen import FILE\n"
	    "  moatctl screen test --ip ADDR [--host NAME] [--helo NAME] "
	    "[--sender ADDR]\n"
	    "      [--rcpt ADDR] [--service S] [--domain D]\n"
	    "  KIND: ip, host, helo, sender, rcpt; LIST: * or a comma list "
	    "of smtp,\n"
	    "  submission, imap, pop3, web\n");
	return 2;
}

/* Tell running workers that the rules changed: they watch the rules
 * generation in screen.map and reload within a second. */
static void
screen_rules_changed(const struct config *cfg)
{
	struct dynscreen *d = moatctl_screen_map(cfg);

	if (d == NULL)
		return;		/* not running yet: loaded at start */
	dyn_rules_bump(d);
	dyn_close(&d);
}

static int
open_store(const struct config *cfg, struct store **st)
{
	const char *error;

	if (store_open(cfg->data_dir, st, &error) < 0) {
		fprintf(stderr, "moatctl: %s\n", error);
		return -1;
	}
	return 0;
}

/* Untrusted text (patterns, comments) must not break one record a line. */
static void
print_row(void *ctx, const char *const *cols, int ncols)
{
	int i;

	(void)ctx;
	for (i = 0; i < ncols; i++) {
		const char *c;

		for (c = cols[i]; *c != '\0'; c++)
			putchar(*c == '\t' || *c == '\n' || *c == '\r' ? ' ' :
			    *c);
		putchar(i + 1 < ncols ? '\t' : '\n');
	}
}

/* allow|deny add|del KIND PATTERN [options]; argv[0] is the action. */
static int
cmd_rule(const struct config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "domain", required_argument, NULL, 'd' },
		{ "shadow", no_argument, NULL, 'S' },
		{ "comment", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct screen_row row;
	struct store *st;
	const char *error, *verb;
	bool add, has_service = false, has_extra = false;
	int64_t id;
	unsigned n;
	int ch, r;

	memset(&row, 0, sizeof(row));
	row.services = SCREEN_SVC_ALL;
	if (argc < 2 || screen_action_parse(argv[0], &row.action) < 0)
		return usage();
	verb = argv[1];
	if (strcmp(verb, "add") == 0)
		add = true;
	else if (strcmp(verb, "del") == 0)
		add = false;
	else
		return usage();
	argc--;
	argv++;
	optind = 0;	/* glibc: reinitialise after main()'s getopt */
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (screen_services_parse(optarg, &row.services) < 0) {
				fprintf(stderr, "moatctl: --service %s: "
				    "expected * or a list of smtp, "
				    "submission, imap, pop3, web\n", optarg);
				return 2;
			}
			has_service = true;
			break;
		case 'd':
			row.domain = optarg;
			break;
		case 'S':
			row.shadow = true;
			has_extra = true;
			break;
		case 'c':
			row.comment = optarg;
			has_extra = true;
			break;
		default:
			return usage();
		}
	}
	if (optind + 2 != argc)
		return usage();
	if (screen_kind_parse(argv[optind], &row.kind) < 0) {
		fprintf(stderr, "moatctl: %s: unknown kind (ip, host, helo, "
		    "sender, rcpt)\n", argv[optind]);
		return 2;
	}
	row.pattern = argv[optind + 1];
	if (!add && (has_service || has_extra)) {
		fprintf(stderr, "moatctl: del takes only --domain\n");
		return 2;
	}
	if (open_store(cfg, &st) < 0)
		return 1;
	if (add)
		r = store_screen_add(st, &row, &id, &error);
	else
		r = store_screen_del(st, row.action, row.kind, row.pattern,
		    row.domain, &n, &error);
	if (r < 0) {
		fprintf(stderr, "moatctl: %s %s %s: %s\n",
		    screen_action_name(row.action),
		    screen_kind_name(row.kind), row.pattern, error);
		store_close(&st);
		return 1;
	}
	store_close(&st);
	screen_rules_changed(cfg);
	if (add)
		printf("added rule %lld\n", (long long)id);
	else
		printf("deleted %u rule%s\n", n, n == 1 ? "" : "s");
	return 0;
}

static int
cmd_del(const struct config *cfg, int argc, char **argv)
{
	struct store *st;
	const char *error;
	uint64_t id;

	if (argc != 2)
		return usage();
	if (parse_u64(argv[1], 1, INT64_MAX, &id, &error) < 0) {
		fprintf(stderr, "moatctl: %s: not a rule id: %s\n", argv[1],
		    error);
		return 2;
	}
	if (open_store(cfg, &st) < 0)
		return 1;
	if (store_screen_del_id(st, (int64_t)id, &error) < 0) {
		fprintf(stderr, "moatctl: rule %s: %s\n", argv[1], error);
		store_close(&st);
		return 1;
	}
	store_close(&st);
	screen_rules_changed(cfg);
	printf("deleted rule %s\n", argv[1]);
	return 0;
}

static int
cmd_list(const struct config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	enum screen_action action;
	enum screen_kind kind;
	const char *action_name = NULL, *kind_name = NULL;
	struct store *st;
	int ch, r;

	optind = 0;	/* glibc: reinitialise after main()'s getopt */
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			if (screen_kind_parse(optarg, &kind) < 0) {
				fprintf(stderr, "moatctl: --kind %s: unknown "
				    "kind\n", optarg);
				return 2;
			}
			kind_name = screen_kind_name(kind);
			break;
		default:
			return usage();
		}
	}
	if (optind + 1 == argc) {
		if (screen_action_parse(argv[optind], &action) < 0)
			return usage();
		action_name = screen_action_name(action);
	} else if (optind != argc)
		return usage();
	if (open_store(cfg, &st) < 0)
		return 1;
	r = store_screen_list(st, action_name, kind_name, print_row, NULL);
	store_close(&st);
	if (r < 0) {
		fprintf(stderr, "moatctl: cannot read the screen rules\n");
		return 1;
	}
	return 0;
}

static int
cmd_import(const struct config *cfg, int argc, char **argv)
{
	struct store *st;
	const char *error;
	unsigned added, skipped;
	FILE *fp;
	int r;

	if (argc != 2)
		return usage();
	if (strcmp(argv[1], "-") == 0)
		fp = stdin;
	else if ((fp = fopen(argv[1], "r")) == NULL) {
		fprintf(stderr, "moatctl: %s: %s\n", argv[1],
		    strerror(errno));
		return 1;
	}
	if (open_store(cfg, &st) < 0) {
		if (fp != stdin)
			(void)fclose(fp);	/* read only */
		return 1;
	}
	r = store_screen_import(st, fp, &added, &skipped, &error);
	if (r < 0)
		fprintf(stderr, "moatctl: %s: %s (nothing imported)\n",
		    argv[1], error);
	store_close(&st);
	if (fp != stdin)
		(void)fclose(fp);	/* read only */
	if (r < 0)
		return 1;
	if (added > 0)
		screen_rules_changed(cfg);
	printf("imported %u rule%s, %u already present\n", added,
	    added == 1 ? "" : "s", skipped);
	return 0;
}

static void
print_verdict(const char *what, const char *value,
    const struct screen_verdict *v)
{
	char text[SCREEN_HIT_TEXT_MAX];

	printf("%s", what);
	if (value != NULL)
		printf(" %s", value);
	printf(" %s", screen_action_name(v->action));
	if (v->action != SCREEN_NONE) {
		screen_hit_format(&v->rule, text, sizeof(text));
		printf(" rule=%s", text);
	}
	if (v->shadow_action != SCREEN_NONE) {
		screen_hit_format(&v->shadow_rule, text, sizeof(text));
		printf(" shadow=%s shadow_rule=%s",
		    screen_action_name(v->shadow_action), text);
	}
	putchar('\n');
}

static int
cmd_test(const struct config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ip", required_argument, NULL, 'i' },
		{ "host", required_argument, NULL, 'h' },
		{ "helo", required_argument, NULL, 'e' },
		{ "sender", required_argument, NULL, 's' },
		{ "rcpt", required_argument, NULL, 'r' },
		{ "service", required_argument, NULL, 'S' },
		{ "domain", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ip = NULL, *host = NULL, *helo = NULL, *sender = NULL;
	const char *rcpt = NULL, *scope = NULL, *error;
	enum screen_service svc = SCREEN_SVC_SMTP;
	struct screen_verdict all, v;
	struct screen_rules *set;
	struct store *st;
	struct cidr c;
	int ch, r;

	optind = 0;	/* glibc: reinitialise after main()'s getopt */
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			ip = optarg;
			break;
		case 'h':
			host = optarg;
			break;
		case 'e':
			helo = optarg;
			break;
		case 's':
			sender = optarg;
			break;
		case 'r':
			rcpt = optarg;
			break;
		case 'S':
			if (screen_service_parse(optarg, &svc) < 0) {
				fprintf(stderr, "moatctl: --service %s: one of "
				    "smtp, submission, imap, pop3, web\n",
				    optarg);
				return 2;
			}
			break;
		case 'd':
			scope = optarg;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc || ip == NULL)
		return usage();
	if (strchr(ip, '/') != NULL || cidr_parse(ip, &c) < 0) {
		fprintf(stderr, "moatctl: --ip %s: not an address\n", ip);
		return 2;
	}
	if (open_store(cfg, &st) < 0)
		return 1;
	r = screen_rules_load(st, &set, &error);
	store_close(&st);
	if (r < 0) {
		fprintf(stderr, "moatctl: cannot load the screen rules: %s\n",
		    error);
		return 1;
	}
	memset(&all, 0, sizeof(all));
	(void)screen_match_ip(set, svc, scope, ip, &v);
	print_verdict("ip", ip, &v);
	screen_verdict_merge(&all, &v);
	if (host != NULL) {
		(void)screen_match_host(set, svc, scope, host, &v);
		print_verdict("host", host, &v);
		screen_verdict_merge(&all, &v);
	}
	if (helo != NULL) {
		(void)screen_match_helo(set, svc, scope, helo, &v);
		print_verdict("helo", helo, &v);
		screen_verdict_merge(&all, &v);
	}
	if (sender != NULL) {
		(void)screen_match_sender(set, svc, scope, sender, &v);
		print_verdict("sender", sender, &v);
		screen_verdict_merge(&all, &v);
	}
	if (rcpt != NULL) {
		(void)screen_match_rcpt(set, svc, scope, rcpt, &v);
		print_verdict("rcpt", rcpt, &v);
		screen_verdict_merge(&all, &v);
	}
	print_verdict("verdict", NULL, &all);
	screen_rules_free(&set);
	return 0;
}

int
moatctl_screen(const struct config *cfg, int argc, char **argv)
{
	if (argc < 2)
		return usage();
	argc--;
	argv++;
	if (strcmp(argv[0], "allow") == 0 || strcmp(argv[0], "deny") == 0)
		return cmd_rule(cfg, argc, argv);
	if (strcmp(argv[0], "del") == 0)
		return cmd_del(cfg, argc, argv);
	if (strcmp(argv[0], "list") == 0)
		return cmd_list(cfg, argc, argv);
	if (strcmp(argv[0], "import") == 0)
		return cmd_import(cfg, argc, argv);
	if (strcmp(argv[0], "test") == 0)
		return cmd_test(cfg, argc, argv);
	return usage();
}
