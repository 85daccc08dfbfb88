/* fuzz_smtp_parser: libFuzzer target for smtp_parser.c. The first input
 * octet picks the lenient flags and the SMTPUTF8 state; the rest is a
 * byte stream framed with smtp_line_next(). Every line goes through
 * smtp_parse_command() and then through smtp_parse_mail(), _rcpt() and
 * _bdat() on its arguments, whatever the verb, and the results are
 * checked against the header's promises. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_error(int code, const char *error)
{
	if (code != 501 && code != 550 && code != 553 && code != 555)
		abort();
	if (error == NULL || strlen(error) < 6 || error[1] != '.')
		abort();
}

static void
parse_line(const char *line, size_t len, unsigned flags, bool smtputf8)
{
	struct smtp_command c;
	struct smtp_mail_args m;
	struct smtp_rcpt_args r;
	uint64_t chunk;
	bool last;
	int code;
	const char *error;

	smtp_parse_command(line, len, &c);
	if (c.cmd >= SMTP_CMD_COUNT || smtp_cmd_name(c.cmd) == NULL)
		abort();
	if (c.argslen > len || (c.argslen > 0 &&
	    (c.args < line || c.args + c.argslen > line + len)))
		abort();
	if (c.cmd == SMTP_CMD_UNKNOWN && c.argslen != 0)
		abort();

	error = NULL;
	code = 0;
	if (smtp_parse_mail(c.args, c.argslen, flags, &m, &code, &error) == 0) {
		if (m.from.utf8 && !m.smtputf8)
			abort();
		if (!m.has_size && m.size != 0)
			abort();
	} else
		check_error(code, error);

	error = NULL;
	code = 0;
	if (smtp_parse_rcpt(c.args, c.argslen, flags, smtputf8, &r, &code,
	    &error) == 0) {
		if (r.to.null || (r.to.utf8 && !smtputf8))
			abort();
		if (r.postmaster != (r.to.domain[0] == '\0'))
			abort();
	} else
		check_error(code, error);

	error = NULL;
	if (smtp_parse_bdat(c.args, c.argslen, &chunk, &last, &error) < 0 &&
	    error == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags;
	bool smtputf8;
	size_t max;

	if (size == 0)
		return 0;
	flags = data[0] & SMTP_PARSE_WS_BEFORE_PATH;
	smtputf8 = (data[0] & 0x02) != 0;
	/* mostly the real limit; sometimes a tiny one to reach its edges */
	max = (data[0] & 0x04) != 0 ? 1 + (data[0] >> 3) : SMTP_LINE_MAX;
	data++;
	size--;

	while (size > 0) {
		size_t linelen = 0, consumed = 0;
		enum smtp_line_result res;
		char *line;

		res = smtp_line_next(data, size, max, &linelen, &consumed);
		if (res == SMTP_LINE_NEED_MORE) {
			if (size >= max || consumed != 0)
				abort();
			break;
		}
		if (consumed == 0 || consumed > size)
			abort();
		if (res != SMTP_LINE_OK) {
			data += consumed;
			size -= consumed;
			continue;
		}
		if (linelen + 2 != consumed || consumed > max ||
		    data[linelen] != '\r' || data[linelen + 1] != '\n' ||
		    memchr(data, '\n', linelen) != NULL)
			abort();
		/* an exactly sized copy so that ASan sees reads past it */
		line = malloc(linelen > 0 ? linelen : 1);
		if (line == NULL)
			return 0;
		if (linelen > 0)
			memcpy(line, data, linelen);
		parse_line(line, linelen, flags, smtputf8);
		free(line);
		data += consumed;
		size -= consumed;
	}
	return 0;
}
