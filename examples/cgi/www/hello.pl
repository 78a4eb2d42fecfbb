#!/usr/bin/perl
# hello.pl: one Perl script, two ways to run it (Debian: libfcgi-perl).
#   - pooled: gofpm starts it with the pool socket as fd 0; FCGI sees a
#     FastCGI listener and the loop below serves request after request.
#   - CGI: the CGI bridge (or fcgiwrap, or any CGI server) forks and execs
#     it for one request; FCGI sees no socket, Accept returns once with the
#     request in %ENV, and the script exits.
# Either way it answers {"lang": "perl", "pid": N, "query": "..."}.
use strict;
use warnings;
use FCGI;

my %env;
my $req = FCGI::Request(\*STDIN, \*STDOUT, \*STDERR, \%env, 0);
my $env = $req->IsFastCGI() ? \%env : \%ENV;
while ($req->Accept() >= 0) {
    my $q = $env->{QUERY_STRING} // '';
    $q =~ s/(["\\])/\\$1/g;
    $q =~ s/([\x00-\x1f])/sprintf("\\u%04x", ord($1))/ge;
    print "Content-Type: application/json\r\n\r\n";
    print "{\"lang\": \"perl\", \"pid\": $$, \"query\": \"$q\"}\n";
}
