#!/usr/bin/ruby
# hello.rb: a Ruby FastCGI responder on Debian's ruby-fcgi (FCGI::Server,
# the library's pure-Ruby half). It accepts on fd 0, the FastCGI convention,
# one connection at a time like php-cgi, so gofpm pools it. Answers
# {"lang": "ruby", "pid": N, "query": "..."} for the polyglot pool;
# ?sleep=MS (at most 10000) waits that long first, to show a slow request.
#
# The library's own loop (FCGI.each) stops gracefully only on SIGUSR1 and
# only after one more request; this one stops on SIGQUIT, gofpm's
# worker_graceful_signal: idle, it leaves at once; busy, after its request.
require 'json'
require 'socket'

# Debian's fcgi.so is built for an older Ruby (undefined symbol rb_secure)
# and the library falls back to pure Ruby anyway, saying so on stderr at
# every start: go straight to pure Ruby, quietly.
ENV['USE_PURE_RUBY_FCGI'] = '1'
err = $stderr
$stderr = File.open(File::NULL, 'w')
begin
  require 'fcgi'
ensure
  $stderr = err
end

# Listener is what FCGI::Server accepts from: the socket on fd 0, waited on
# together with a pipe that the SIGQUIT trap writes to, so that a stop wakes
# an idle worker without a race (accept returns nil and the loop ends).
class Listener
  def initialize(sock)
    @sock = sock
    @wake_r, @wake_w = IO.pipe
  end

  def stop
    @wake_w.write_nonblock('.')
  rescue IO::WaitWritable, IOError
    nil
  end

  def stopping?
    IO.select([@wake_r], nil, nil, 0) != nil
  end

  def accept
    loop do
      ready, = IO.select([@sock, @wake_r])
      return nil if ready.include?(@wake_r)
      begin
        return @sock.accept_nonblock
      rescue IO::WaitReadable, Errno::EINTR, Errno::ECONNABORTED
        next # another worker took it
      end
    end
  end
end

begin
  listener = Listener.new(Socket.for_fd(0))
rescue SystemCallError => e
  abort "hello.rb: fd 0: #{e.message} (is fd 0 a listening socket?)"
end
trap('QUIT') { listener.stop }
server = FCGI::Server.new(listener)
# GOFPM_MAX_REQUESTS (pm_max_requests): leave cleanly after that many
# requests, as php-cgi does with PHP_FCGI_MAX_REQUESTS.
max = ENV.fetch('GOFPM_MAX_REQUESTS', '0').to_i
served = 0
until listener.stopping? || (max.positive? && served >= max)
  served += 1
  begin
    server.session do |req|
      q = req.env['QUERY_STRING'] || ''
      ms = q[/(?:\A|&)sleep=(\d+)/, 1]
      sleep([ms.to_i, 10_000].min / 1000.0) if ms
      query = JSON.generate(q)
      req.out.print "Content-Type: application/json\r\n\r\n",
                    %({"lang": "ruby", "pid": #{Process.pid}, "query": #{query}}\n)
    end
  rescue Errno::EPIPE, Errno::ECONNRESET, EOFError, TypeError
    # the web server went away mid-request (the library reads nil at EOF)
  end
end
