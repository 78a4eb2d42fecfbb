#!/usr/bin/perl
# hello.pl: a Perl FCGI responder (Debian: libfcgi-perl). FCGI accepts on
# fd 0, the FastCGI convention, so gofpm runs it as it is.
# Answers {"lang": "perl", "pid": N, "query": "..."} for the polyglot pool;
# ?sleep=MS (at most 10000) waits that long first, to show a slow request.
use strict;
use warnings;
use FCGI;

my %env;
my $req = FCGI::Request(\*STDIN, \*STDOUT, \*STDERR, \%env, 0);
while ($req->Accept() >= 0) {
    my $q = $env{QUERY_STRING} // '';
    if ($q =~ /(?:^|&)sleep=(\d+)/) {
        select(undef, undef, undef, ($1 > 10000 ? 10000 : $1) / 1000);
    }
    $q =~ s/(["\\])/\\$1/g;
    $q =~ s/([\x00-\x1f])/sprintf("\\u%04x", ord($1))/ge;
    print "Content-Type: application/json\r\n\r\n";
    print "{\"lang\": \"perl\", \"pid\": $$, \"query\": \"$q\"}\n";
}
