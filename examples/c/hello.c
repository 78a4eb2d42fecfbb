/* hello: a libfcgi responder (Debian: libfcgi-dev). It accepts on fd 0,
 * the FastCGI convention, so gofpm runs it as it is:
 *   cc -O2 -o ../../bin/hello-c hello.c -lfcgi     (make examples)
 * Answers {"lang": "c", "pid": N, "query": "..."} for the polyglot pool;
 * ?sleep=MS (at most 10000) waits that long first, to show a slow request. */
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* json_string writes s as a JSON string. */
static void json_string(FCGX_Stream *out, const char *s) {
	FCGX_PutChar('"', out);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			FCGX_PutChar('\\', out);
			FCGX_PutChar(c, out);
		} else if (c < 0x20) {
			FCGX_FPrintF(out, "\\u%04x", c);
		} else {
			FCGX_PutChar(c, out);
		}
	}
	FCGX_PutChar('"', out);
}

/* sleep_ms is the query's sleep=MS, capped at 10 s; 0 without one. */
static long sleep_ms(const char *q) {
	while (q && *q) {
		if (strncmp(q, "sleep=", 6) == 0) {
			long ms = strtol(q + 6, NULL, 10);
			return ms < 0 ? 0 : ms > 10000 ? 10000 : ms;
		}
		q = strchr(q, '&');
		if (q)
			q++;
	}
	return 0;
}

int main(void) {
	FCGX_Request req;
	FCGX_Init();
	FCGX_InitRequest(&req, 0, 0);
	while (FCGX_Accept_r(&req) >= 0) {
		const char *q = FCGX_GetParam("QUERY_STRING", req.envp);
		long ms = sleep_ms(q);
		if (ms > 0)
			usleep((useconds_t)ms * 1000);
		FCGX_FPrintF(req.out, "Content-Type: application/json\r\n\r\n{\"lang\": \"c\", \"pid\": %d, \"query\": ", (int)getpid());
		json_string(req.out, q ? q : "");
		FCGX_FPrintF(req.out, "}\n");
		FCGX_Finish_r(&req);
	}
	return 0;
}
