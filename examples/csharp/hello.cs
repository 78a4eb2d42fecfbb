// hello.cs: a FastCGI responder in C# on Mono from Debian (mono-mcs,
// mono-runtime), with nothing but what mono-runtime ships. It accepts on
// fd 0, the FastCGI convention, one connection at a time like php-cgi, so
// gofpm pools it:
//   mcs -out:../../bin/hello-csharp.exe hello.cs      (make examples)
// Answers {"lang": "csharp", "pid": N, "query": "..."} for the polyglot pool;
// ?sleep=MS (at most 10000) waits that long first, to show a slow request.
//
// Why libc and not System.Net.Sockets: Mono's Socket only knows the sockets
// it created itself (an inherited fd is "not a socket" to it), and
// Mono.Posix.dll is a separate package (libmono-posix4.0-cil). So the socket
// calls are P/Invoke into libc, and SIGQUIT is caught with the native half
// of Mono.Unix.UnixSignal, libMonoPosixHelper.so, which mono-runtime-common
// installs. Mono's own SIGQUIT handler only prints a thread dump.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;

static class Hello
{
    const int SIGQUIT = 3, EINTR = 4, EAGAIN = 11, ECONNABORTED = 103;
    const byte BeginRequest = 1, AbortRequest = 2, EndRequest = 3, Params = 4, Stdin = 5, Stdout = 6;

    [DllImport("libc", SetLastError = true)] static extern int accept(int fd, IntPtr addr, IntPtr len);
    [DllImport("libc", SetLastError = true)] static extern IntPtr read(int fd, byte[] buf, IntPtr n);
    [DllImport("libc", SetLastError = true)] static extern IntPtr write(int fd, byte[] buf, IntPtr n);
    [DllImport("libc")] static extern int close(int fd);
    [DllImport("libc")] static extern int getpid();
    [DllImport("libc")] static extern IntPtr pthread_self();
    [DllImport("libc")] static extern int pthread_kill(IntPtr thread, int sig);
    [DllImport("libc")] static extern int siginterrupt(int sig, int flag);

    delegate int ShuttingDown();
    [DllImport("MonoPosixHelper")] static extern IntPtr Mono_Unix_UnixSignal_install(int sig);
    [DllImport("MonoPosixHelper")] static extern int Mono_Unix_UnixSignal_WaitAny(IntPtr[] signals, int count, int timeout, ShuttingDown shuttingDown);

    static volatile bool stopping;
    static int served, maxRequests;

    // Served reports whether the worker has served its GOFPM_MAX_REQUESTS.
    static bool Served()
    {
        return maxRequests > 0 && served >= maxRequests;
    }
    static readonly ShuttingDown never = () => 0;

    static int Main()
    {
        // SIGQUIT (worker_graceful_signal): stop accepting, finish the
        // request in flight, exit. The helper's handler only counts the
        // signal; a watcher thread waits for it and passes it on to the main
        // thread, whose accept() it then interrupts (siginterrupt: no
        // SA_RESTART). While a request runs, the signal interrupts nothing
        // that is not retried, and the loop ends after the request.
        IntPtr quit = Mono_Unix_UnixSignal_install(SIGQUIT);
        if (quit == IntPtr.Zero || siginterrupt(SIGQUIT, 1) != 0)
        {
            Console.Error.WriteLine("hello-csharp: cannot catch SIGQUIT");
            return 1;
        }
        IntPtr main = pthread_self();
        var watcher = new Thread(() =>
        {
            Mono_Unix_UnixSignal_WaitAny(new[] { quit }, 1, -1, never);
            stopping = true;
            pthread_kill(main, SIGQUIT);
        });
        watcher.IsBackground = true;
        watcher.Start();

        // GOFPM_MAX_REQUESTS (pm_max_requests): leave cleanly after that
        // many requests, as php-cgi does with PHP_FCGI_MAX_REQUESTS.
        int.TryParse(Environment.GetEnvironmentVariable("GOFPM_MAX_REQUESTS"), out maxRequests);
        int pid = getpid();
        while (!stopping && !Served())
        {
            int conn = accept(0, IntPtr.Zero, IntPtr.Zero);
            if (conn < 0)
            {
                int errno = Marshal.GetLastWin32Error();
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                Console.Error.WriteLine("hello-csharp: accept on fd 0: errno " + errno + (errno == EAGAIN
                    ? " (fd 0 is non-blocking: another kind of worker shares this socket?)"
                    : " (is fd 0 a listening socket?)"));
                return 1;
            }
            try
            {
                Serve(new Conn(conn), pid);
            }
            catch (ConnectionClosed)
            {
            }
            close(conn);
        }
        return 0;
    }

    // Serve answers the requests of one connection: one, or more while the
    // web server asks to keep the connection (FCGI_KEEP_CONN) and no stop
    // was asked.
    static void Serve(Conn c, int pid)
    {
        while (true)
        {
            var rec = c.Record();
            if (rec.Type != BeginRequest)
                continue;
            int id = rec.Id;
            bool keep = rec.Content.Length > 2 && (rec.Content[2] & 1) != 0;
            var env = new List<byte>();
            while (true)
            {
                rec = c.Record();
                if (rec.Id != id)
                    continue;
                if (rec.Type == AbortRequest)
                    break;
                if (rec.Type == Params)
                    env.AddRange(rec.Content);
                else if (rec.Type == Stdin && rec.Content.Length == 0)
                    break;
            }
            string query;
            Pairs(env.ToArray()).TryGetValue("QUERY_STRING", out query);
            int ms = SleepMS(query ?? "");
            if (ms > 0)
                Thread.Sleep(ms);
            string body = "Content-Type: application/json\r\n\r\n{\"lang\": \"csharp\", \"pid\": " + pid +
                ", \"query\": " + JsonString(query ?? "") + "}\n";
            var outp = new List<byte>();
            Record(outp, Stdout, id, Encoding.UTF8.GetBytes(body));
            Record(outp, Stdout, id, new byte[0]);
            Record(outp, EndRequest, id, new byte[8]);
            c.Write(outp.ToArray());
            served++;
            if (!keep || stopping || Served())
                return;
        }
    }

    // SleepMS is the query's sleep=MS, at most 10 s; 0 without one.
    static int SleepMS(string query)
    {
        foreach (string part in query.Split('&'))
        {
            int ms;
            if (part.StartsWith("sleep=") && int.TryParse(part.Substring(6), out ms) && ms > 0)
                return Math.Min(ms, 10000);
        }
        return 0;
    }

    // Record appends FastCGI records of type t carrying content (split at
    // 65535 bytes, padded to a multiple of 8).
    static void Record(List<byte> o, byte t, int id, byte[] content)
    {
        int off = 0;
        do
        {
            int n = Math.Min(65535, content.Length - off), pad = (8 - n % 8) % 8;
            o.AddRange(new byte[] { 1, t, (byte)(id >> 8), (byte)id, (byte)(n >> 8), (byte)n, (byte)pad, 0 });
            for (int i = 0; i < n; i++)
                o.Add(content[off + i]);
            o.AddRange(new byte[pad]);
            off += n;
        } while (off < content.Length);
    }

    // Pairs decodes FastCGI name-value pairs.
    static Dictionary<string, string> Pairs(byte[] b)
    {
        var env = new Dictionary<string, string>();
        int i = 0;
        while (i < b.Length)
        {
            int nl = Length(b, ref i), vl = Length(b, ref i);
            if (nl < 0 || vl < 0 || i + nl + vl > b.Length)
                break;
            env[Encoding.UTF8.GetString(b, i, nl)] = Encoding.UTF8.GetString(b, i + nl, vl);
            i += nl + vl;
        }
        return env;
    }

    static int Length(byte[] b, ref int i)
    {
        if (i >= b.Length)
            return -1;
        if (b[i] < 0x80)
            return b[i++];
        if (i + 4 > b.Length)
            return -1;
        int n = ((b[i] & 0x7f) << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3];
        i += 4;
        return n;
    }

    static string JsonString(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (char ch in s)
        {
            if (ch == '"' || ch == '\\')
                sb.Append('\\').Append(ch);
            else if (ch < 0x20)
                sb.Append("\\u").Append(((int)ch).ToString("x4"));
            else
                sb.Append(ch);
        }
        return sb.Append('"').ToString();
    }

    class ConnectionClosed : Exception
    {
    }

    struct Rec
    {
        public byte Type;
        public int Id;
        public byte[] Content;
    }

    // Conn reads and writes one accepted connection through libc.
    class Conn
    {
        readonly int fd;
        readonly byte[] buf = new byte[16384];
        int start, end;

        public Conn(int fd)
        {
            this.fd = fd;
        }

        public Rec Record()
        {
            byte[] h = Exactly(8);
            var r = new Rec { Type = h[1], Id = (h[2] << 8) | h[3] };
            r.Content = Exactly((h[4] << 8) | h[5]);
            Exactly(h[6]);
            return r;
        }

        byte[] Exactly(int n)
        {
            var o = new byte[n];
            for (int got = 0; got < n;)
            {
                if (start == end)
                {
                    long r = (long)read(fd, buf, (IntPtr)buf.Length);
                    if (r < 0 && Marshal.GetLastWin32Error() == EINTR)
                        continue;
                    if (r <= 0)
                        throw new ConnectionClosed();
                    start = 0;
                    end = (int)r;
                }
                int k = Math.Min(n - got, end - start);
                Buffer.BlockCopy(buf, start, o, got, k);
                start += k;
                got += k;
            }
            return o;
        }

        public void Write(byte[] b)
        {
            for (int off = 0; off < b.Length;)
            {
                var part = off == 0 ? b : new byte[b.Length - off];
                if (off > 0)
                    Buffer.BlockCopy(b, off, part, 0, part.Length);
                long r = (long)write(fd, part, (IntPtr)part.Length);
                if (r < 0 && Marshal.GetLastWin32Error() == EINTR)
                    continue;
                if (r <= 0)
                    throw new ConnectionClosed();
                off += (int)r;
            }
        }
    }
}
