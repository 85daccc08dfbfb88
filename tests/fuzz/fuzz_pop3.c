/* fuzz_pop3: libFuzzer target for pop3_parser.c. The input is a byte
 * stream framed into lines with smtp_line_next() at the POP3 limit; every
 * line goes through pop3_parse_command() and its arguments through
 * pop3_parse_numbers() with every min/max pair, and the results are
 * checked against the header's promises. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3_parser.h"
#include "smtp_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
parse_line(const char *line, size_t len)
{
	struct pop3_command c;
	uint32_t v[POP3_ARGS_MAX];
	int min, max, n;

	pop3_parse_command(line, len, &c);
	if (c.cmd >= POP3_CMD_COUNT || pop3_cmd_name(c.cmd) == NULL)
		abort();
	if (c.argslen > len || (c.argslen > 0 &&
	    (c.args < line || c.args + c.argslen > line + len)))
		abort();
	if (c.cmd == POP3_CMD_UNKNOWN && c.argslen != 0)
		abort();
	for (min = 0; min <= POP3_ARGS_MAX; min++) {
		for (max = min; max <= POP3_ARGS_MAX; max++) {
			n = pop3_parse_numbers(c.args, c.argslen, min, max, v);
			if (n != -1 && (n < min || n > max))
				abort();
			if (n == 0 && c.argslen != 0)
				abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	while (size > 0) {
		size_t linelen = 0, consumed = 0;
		enum smtp_line_result r = smtp_line_next(data, size,
		    POP3_LINE_MAX, &linelen, &consumed);
		char line[POP3_LINE_MAX];

		if (r == SMTP_LINE_NEED_MORE) {
			/* The unterminated tail: parse it as a line too. */
			if (size >= sizeof(line))
				abort();
			memcpy(line, data, size);
			parse_line(line, size);
			break;
		}
		if (consumed == 0 || consumed > size)
			abort();
		if (r == SMTP_LINE_OK) {
			if (linelen + 2 > POP3_LINE_MAX)
				abort();
			memcpy(line, data, linelen);
			parse_line(line, linelen);
		}
		data += consumed;
		size -= consumed;
	}
	return 0;
}
