/* moatd: the mail server daemon's entry point: arguments, config, and
 * either --check or the master process (master.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clamd.h"
#include "config.h"
#include "dnsbl.h"
#include "log.h"
#include "master.h"
#include "proc.h"
#include "rules_parse.h"
#include "util.h"
#include "xalloc.h"

#define MOATD_DEFAULT_CONFIG "/etc/moat/moatd.conf"

static void
usage(FILE *f)
{
	fprintf(f, "usage: moatd [-c FILE] [--check]\n"
	    "  -c FILE   configuration file (default %s)\n"
	    "  --check   validate the configuration and exit\n",
	    MOATD_DEFAULT_CONFIG);
}

/* Values whose syntax belongs to a module, not to the config parser:
 * checked once here, so a typo stops the start instead of a worker
 * logging it for every message. */
static int
check_values(const struct config *cfg, char *err, size_t errlen)
{
	struct dnsbl_config *dc;
	struct clamd_addr ca;
	const char *error = NULL;
	int r = 0;

	if (cfg->dnsbl[0] != '\0') {
		dc = xcalloc(1, sizeof(*dc));
		if (dnsbl_parse(cfg->dnsbl, dc, &error) < 0) {
			snprintf(err, errlen, "[screen] dnsbl: %s", error);
			r = -1;
		}
		free(dc);
	}
	if (r == 0 && cfg->clamd[0] != '\0' &&
	    clamd_addr_parse(cfg->clamd, &ca, &error) < 0) {
		snprintf(err, errlen, "[antivirus] clamd: %s", error);
		r = -1;
	}
	if (r == 0 && cfg->filter_rules[0] != '\0') {
		/* The rule file, with file:line on an error. */
		char rpath[CONFIG_PATH_MAX * 2 + 2], rerr[600];
		struct rules *rs;

		rpath[0] = '\0';
		if (cfg->filter_rules[0] != '/') {
			moat_strlcpy(rpath, cfg->data_dir, sizeof(rpath));
			moat_strlcat(rpath, "/", sizeof(rpath));
		}
		moat_strlcat(rpath, cfg->filter_rules, sizeof(rpath));
		if (rules_load(rpath, &rs, rerr, sizeof(rerr)) < 0) {
			snprintf(err, errlen, "[filter] rules: %s", rerr);
			r = -1;
		} else
			rules_free(rs);
	}
	return r;
}

int
main(int argc, char **argv)
{
	static struct config cfg;
	const char *path = MOATD_DEFAULT_CONFIG;
	bool check = false;
	char err[1024];
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--check") == 0) {
			check = true;
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	config_defaults(&cfg);
	if (config_load(&cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "moatd: %s\n", err);
		return 1;
	}
	if (check_values(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "moatd: %s: %s\n", path, err);
		return 1;
	}
	if (check) {
		struct proc_user pu;

		if (proc_user_lookup(cfg.user, &pu, err, sizeof(err)) < 0) {
			fprintf(stderr, "moatd: %s\n", err);
			return 1;
		}
		if (cfg.tls_cert[0] != '\0' &&
		    (access(cfg.tls_cert, R_OK) != 0 ||
		    access(cfg.tls_key, R_OK) != 0)) {
			fprintf(stderr, "moatd: [tls] cert or key not "
			    "readable: %s, %s\n", cfg.tls_cert, cfg.tls_key);
			return 1;
		}
		printf("moatd: %s: configuration ok\n", path);
		return 0;
	}
	return master_run(path, &cfg);
}
