using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace DumpShell.Symbols;

/// <summary>Settings of a <see cref="SymbolServerClient"/>.</summary>
public sealed record SymbolServerOptions
{
    /// <summary>Longest wait for a TCP/TLS connection. Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest time one request may take, headers and body together. Default 60 s.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Largest file accepted; a larger response is abandoned and nothing is kept. Default 1 GiB.</summary>
    public long MaxFileBytes { get; init; } = 1L << 30;

    /// <summary>Ask for <c>name/id/file.ptr</c> when the file itself is not on the server, as SymSrv does. Default true.</summary>
    public bool FollowFilePointers { get; init; } = true;

    /// <summary>
    /// Follow a <c>file.ptr</c> whose PATH is a local or UNC file (copy it into the cache), as SymSrv does.
    /// Default true. A PATH that is an http(s) URL is followed whenever <see cref="FollowFilePointers"/> is set.
    /// </summary>
    public bool AllowLocalFilePointers { get; init; } = true;

    /// <summary>
    /// Also ask for the compressed form (<c>name.pd_</c>, <c>name.ex_</c>: a CAB file) when the plain file is
    /// missing. Compressed files are not unpacked; when one exists the result says so
    /// (<see cref="SymbolDownloadStatus.Compressed"/>). Default false: one request fewer per missing file.
    /// </summary>
    public bool ProbeCompressed { get; init; }

    /// <summary>Use the system / environment proxy. Default true.</summary>
    public bool UseProxy { get; init; } = true;

    /// <summary>The User-Agent header sent.</summary>
    public string UserAgent { get; init; } = "DumpShell-SymbolClient/1.0";

    /// <summary>Largest <c>file.ptr</c> read (it is a line of text).</summary>
    public int MaxFilePointerBytes { get; init; } = 64 * 1024;
}

/// <summary>Outcome of one <see cref="SymbolServerClient.DownloadAsync"/>.</summary>
public enum SymbolDownloadStatus
{
    /// <summary>The file was downloaded (or copied through a file.ptr) into the cache.</summary>
    Downloaded,
    /// <summary>The cache already had the file; nothing was requested.</summary>
    Cached,
    /// <summary>The server does not have the file (404/410, or file.ptr missing too).</summary>
    NotFound,
    /// <summary>The server's file.ptr holds <c>MSG:</c> text instead of a path.</summary>
    Message,
    /// <summary>The server has only a compressed (CAB, <c>_</c>-suffixed) file; unpacking is not supported.</summary>
    Compressed,
    /// <summary>The file is larger than <see cref="SymbolServerOptions.MaxFileBytes"/>.</summary>
    TooLarge,
    /// <summary>The connection or the request took longer than allowed.</summary>
    TimedOut,
    /// <summary>Any other failure (HTTP error status, network error, file system error).</summary>
    Failed,
}

/// <summary>Result of a download.</summary>
/// <param name="Path">The file in the cache when <see cref="Status"/> is Downloaded or Cached.</param>
/// <param name="Url">The last URL asked (or the cache path for Cached).</param>
/// <param name="Message">What went wrong, or the file.ptr message.</param>
/// <param name="Bytes">Bytes written into the cache.</param>
/// <param name="Remembered">True when the result was remembered from an earlier request in this session.</param>
public sealed record SymbolDownloadResult(
    SymbolDownloadStatus Status, string? Path, string Url, string? Message, long Bytes = 0, bool Remembered = false)
{
    public bool Succeeded => Status is SymbolDownloadStatus.Downloaded or SymbolDownloadStatus.Cached;
}

/// <summary>Progress of a download: bytes received so far and the total when the server said it.</summary>
public readonly record struct SymbolDownloadProgress(string Url, long BytesReceived, long? TotalBytes);

/// <summary>
/// Downloads files from HTTP symbol servers (SymSrv protocol: <c>GET &lt;server&gt;/&lt;name&gt;/&lt;id&gt;/&lt;file&gt;</c>)
/// into a local cache in SymSrv layout.
/// </summary>
/// <remarks>
/// <para>Nothing is requested when the cache already holds the file. A file that the server does not have
/// (404/410), that is too large, only compressed, or replaced by a file.ptr message is remembered for the
/// life of the client: the same server is not asked again for it.</para>
/// <para>Responses are streamed to a temporary file next to the target and moved into place, so the cache never
/// holds a partial file; Content-Length is only used to reject early, never to size a buffer, and the body
/// is cut off at <see cref="SymbolServerOptions.MaxFileBytes"/> whatever the header said.</para>
/// <para>When the file is missing, <c>name/id/file.ptr</c> is asked for: a line <c>PATH:&lt;path or URL&gt;</c>
/// names where the file really is, <c>MSG:&lt;text&gt;</c> says why there is none.</para>
/// <para>Thread-safe.</para>
/// </remarks>
public sealed class SymbolServerClient : IDisposable
{
    private const int BufferSize = 81920;

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly ConcurrentDictionary<string, SymbolDownloadResult> _remembered = new(StringComparer.Ordinal);
    private int _requestCount;

    public SymbolServerOptions Options { get; }

    /// <summary>HTTP requests sent so far.</summary>
    public int RequestCount => Volatile.Read(ref _requestCount);

    public SymbolServerClient(SymbolServerOptions? options = null)
    {
        Options = options ?? new SymbolServerOptions();
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = Options.ConnectTimeout,
            UseProxy = Options.UseProxy,
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = 10,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        _http = CreateHttpClient(handler, Options);
        _ownsHttp = true;
    }

    /// <summary>A client that sends through <paramref name="handler"/> (tests, custom authentication).</summary>
    public SymbolServerClient(SymbolServerOptions options, HttpMessageHandler handler, bool disposeHandler = true)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        _http = new HttpClient(handler ?? throw new ArgumentNullException(nameof(handler)), disposeHandler)
        {
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd(Options.UserAgent);
        _ownsHttp = true;
    }

    private static HttpClient CreateHttpClient(HttpMessageHandler handler, SymbolServerOptions options)
    {
        var http = new HttpClient(handler, disposeHandler: true) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd(options.UserAgent);
        return http;
    }

    public void Dispose()
    {
        if (_ownsHttp)
            _http.Dispose();
    }

    /// <summary>The URL of <paramref name="key"/> on <paramref name="serverUrl"/> (each segment escaped).</summary>
    public static string UrlOf(string serverUrl, SymbolKey key) => UrlOf(serverUrl, key.Name, key.Id, key.FileName);

    private static string UrlOf(string serverUrl, string name, string id, string file) =>
        serverUrl.TrimEnd('/') + "/" + Uri.EscapeDataString(name) + "/" + Uri.EscapeDataString(id) + "/" + Uri.EscapeDataString(file);

    /// <summary>True when an earlier request of this client found that <paramref name="serverUrl"/> has no usable <paramref name="key"/>.</summary>
    public bool IsRemembered(string serverUrl, SymbolKey key) => _remembered.ContainsKey(MemoryKey(serverUrl, key));

    /// <summary>Forgets every remembered miss.</summary>
    public void ForgetMisses() => _remembered.Clear();

    /// <summary>Synchronous <see cref="DownloadAsync"/>.</summary>
    public SymbolDownloadResult Download(string serverUrl, SymbolKey key, string cacheDirectory,
        Action<SymbolDownloadProgress>? progress = null, CancellationToken cancellationToken = default) =>
        DownloadAsync(serverUrl, key, cacheDirectory, progress, cancellationToken).GetAwaiter().GetResult();

    /// <summary>
    /// Gets <paramref name="key"/> from <paramref name="serverUrl"/> into <paramref name="cacheDirectory"/>
    /// (<c>cache/name/id/file</c>). Cancelling <paramref name="cancellationToken"/> throws
    /// <see cref="OperationCanceledException"/>; every other failure is a result.
    /// </summary>
    public async Task<SymbolDownloadResult> DownloadAsync(string serverUrl, SymbolKey key, string cacheDirectory,
        Action<SymbolDownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(serverUrl);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(cacheDirectory);
        if (!SymbolPath.IsHttpUrl(serverUrl) || !Uri.TryCreate(serverUrl, UriKind.Absolute, out _))
            throw new ArgumentException($"'{serverUrl}' is not an http(s) URL.", nameof(serverUrl));

        string target = StorePaths.Combine(cacheDirectory, key);
        if (File.Exists(target))
            return new SymbolDownloadResult(SymbolDownloadStatus.Cached, target, target, null);

        string memoryKey = MemoryKey(serverUrl, key);
        if (_remembered.TryGetValue(memoryKey, out var known))
            return known with { Remembered = true };

        var result = await DownloadCoreAsync(serverUrl, key, target, progress, cancellationToken).ConfigureAwait(false);
        if (result.Status is SymbolDownloadStatus.NotFound or SymbolDownloadStatus.Message
            or SymbolDownloadStatus.Compressed or SymbolDownloadStatus.TooLarge)
            _remembered.TryAdd(memoryKey, result);
        return result;
    }

    private async Task<SymbolDownloadResult> DownloadCoreAsync(string serverUrl, SymbolKey key, string target,
        Action<SymbolDownloadProgress>? progress, CancellationToken cancellationToken)
    {
        string url = UrlOf(serverUrl, key);
        var first = await GetToFileAsync(url, target, progress, cancellationToken).ConfigureAwait(false);
        if (first.Status != SymbolDownloadStatus.NotFound)
            return first;

        if (Options.ProbeCompressed && key.FileName.Length > 1)
        {
            string compressedName = key.FileName[..^1] + "_";
            string compressedUrl = UrlOf(serverUrl, key.Name, key.Id, compressedName);
            var probe = await ProbeAsync(compressedUrl, cancellationToken).ConfigureAwait(false);
            if (probe is HttpStatusCode.OK)
                return new SymbolDownloadResult(SymbolDownloadStatus.Compressed, null, compressedUrl,
                    $"The server has only the compressed file {compressedName} (CAB); compressed files are not supported.");
        }

        if (!Options.FollowFilePointers)
            return first;

        string ptrUrl = UrlOf(serverUrl, key.Name, key.Id, "file.ptr");
        var (ptrStatus, ptrText, ptrError) = await GetTextAsync(ptrUrl, cancellationToken).ConfigureAwait(false);
        if (ptrStatus is SymbolDownloadStatus.NotFound)
            return first;
        if (ptrText is null)
            return new SymbolDownloadResult(ptrStatus, null, ptrUrl, ptrError);
        return await FollowPointerAsync(ptrUrl, ptrText, target, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Parses file.ptr text: the first line that starts with PATH: or MSG:.</summary>
    internal static (string? Path, string? Message) ParseFilePointer(string text)
    {
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim().TrimEnd('\0');
            if (line.StartsWith("PATH:", StringComparison.OrdinalIgnoreCase))
                return (line[5..].Trim(), null);
            if (line.StartsWith("MSG:", StringComparison.OrdinalIgnoreCase))
                return (null, line[4..].Trim());
        }
        return (null, null);
    }

    private async Task<SymbolDownloadResult> FollowPointerAsync(string ptrUrl, string text, string target,
        Action<SymbolDownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var (path, message) = ParseFilePointer(text);
        if (message is not null)
            return new SymbolDownloadResult(SymbolDownloadStatus.Message, null, ptrUrl, message);
        if (string.IsNullOrEmpty(path))
            return new SymbolDownloadResult(SymbolDownloadStatus.Failed, null, ptrUrl, "The file.ptr holds neither PATH: nor MSG:.");
        if (path.EndsWith('_'))
            return new SymbolDownloadResult(SymbolDownloadStatus.Compressed, null, ptrUrl,
                $"The file.ptr points to a compressed file ({path}); compressed files are not supported.");

        if (SymbolPath.IsHttpUrl(path))
        {
            if (!Uri.TryCreate(path, UriKind.Absolute, out _))
                return new SymbolDownloadResult(SymbolDownloadStatus.Failed, null, ptrUrl, $"The file.ptr URL '{path}' is not valid.");
            return await GetToFileAsync(path, target, progress, cancellationToken).ConfigureAwait(false);
        }

        if (!Options.AllowLocalFilePointers)
            return new SymbolDownloadResult(SymbolDownloadStatus.Failed, null, ptrUrl,
                $"The file.ptr points to the local path '{path}'; following local paths is turned off.");
        if (!System.IO.Path.IsPathFullyQualified(path))
            return new SymbolDownloadResult(SymbolDownloadStatus.Failed, null, ptrUrl, $"The file.ptr path '{path}' is not a full path.");
        if (!File.Exists(path))
            return new SymbolDownloadResult(SymbolDownloadStatus.NotFound, null, path, $"The file.ptr points to '{path}', which does not exist.");
        try
        {
            await using var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, useAsync: true);
            return await WriteToCacheAsync(source, source.Length, path, target, progress, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new SymbolDownloadResult(SymbolDownloadStatus.Failed, null, path, e.Message);
        }
    }

    private async Task<SymbolDownloadResult> GetToFileAsync(string url, string target,
        Action<SymbolDownloadProgress>? progress, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.Timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            Interlocked.Increment(ref _requestCount);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone)
                return new SymbolDownloadResult(SymbolDownloadStatus.NotFound, null, url, $"HTTP {(int)response.StatusCode}");
            if (!response.IsSuccessStatusCode)
                return new SymbolDownloadResult(SymbolDownloadStatus.Failed, null, url,
                    $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            long? length = response.Content.Headers.ContentLength;
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            return await WriteToCacheAsync(body, length, url, target, progress, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTimeout(e, cancellationToken))
        {
            return new SymbolDownloadResult(SymbolDownloadStatus.TimedOut, null, url, $"No complete answer within {Describe(Options.Timeout)} (connect limit {Describe(Options.ConnectTimeout)}).");
        }
        catch (HttpRequestException e)
        {
            return new SymbolDownloadResult(SymbolDownloadStatus.Failed, null, url, e.Message);
        }
    }

    /// <summary>Streams <paramref name="source"/> into a temporary file beside <paramref name="target"/>, then moves it into place.</summary>
    private async Task<SymbolDownloadResult> WriteToCacheAsync(Stream source, long? declaredLength, string from, string target,
        Action<SymbolDownloadProgress>? progress, CancellationToken cancellationToken)
    {
        long max = Options.MaxFileBytes;
        if (declaredLength > max)
            return new SymbolDownloadResult(SymbolDownloadStatus.TooLarge, null, from,
                $"The file is {declaredLength} bytes; the limit is {max}.");

        string directory = System.IO.Path.GetDirectoryName(target)!;
        string temp = System.IO.Path.Combine(directory, $".dl-{Guid.NewGuid():N}.tmp");
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        long received = 0;
        try
        {
            Directory.CreateDirectory(directory);
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, useAsync: true))
            {
                progress?.Invoke(new SymbolDownloadProgress(from, 0, declaredLength));
                while (true)
                {
                    int n = await source.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false);
                    if (n == 0)
                        break;
                    received += n;
                    if (received > max)
                        return new SymbolDownloadResult(SymbolDownloadStatus.TooLarge, null, from,
                            $"The file is larger than the limit of {max} bytes.");
                    await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    progress?.Invoke(new SymbolDownloadProgress(from, received, declaredLength));
                }
            }
            if (declaredLength is { } expected && expected != received)
                return new SymbolDownloadResult(SymbolDownloadStatus.Failed, null, from,
                    $"The server announced {expected} bytes and sent {received}.");
            try
            {
                File.Move(temp, target, overwrite: true);
            }
            catch (IOException) when (File.Exists(target))
            {
                // Another download of the same file won the race (or has it open on Windows); keep that one.
            }
            return new SymbolDownloadResult(SymbolDownloadStatus.Downloaded, target, from, null, received);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException
                                  && e.InnerException is not (TimeoutException or OperationCanceledException))
        {
            return new SymbolDownloadResult(SymbolDownloadStatus.Failed, null, from, $"Copying into the cache failed: {e.Message}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            TryDelete(temp);
        }
    }

    private async Task<HttpStatusCode?> ProbeAsync(string url, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.Timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            Interlocked.Increment(ref _requestCount);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            return response.StatusCode;
        }
        catch (Exception e) when (IsTimeout(e, cancellationToken) || e is HttpRequestException)
        {
            return null;
        }
    }

    private async Task<(SymbolDownloadStatus Status, string? Text, string? Error)> GetTextAsync(string url, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.Timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            Interlocked.Increment(ref _requestCount);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone)
                return (SymbolDownloadStatus.NotFound, null, null);
            if (!response.IsSuccessStatusCode)
                return (SymbolDownloadStatus.Failed, null, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase} for {url}");
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            byte[] bytes = new byte[Options.MaxFilePointerBytes];
            int total = 0;
            while (total < bytes.Length)
            {
                int n = await body.ReadAsync(bytes.AsMemory(total), timeout.Token).ConfigureAwait(false);
                if (n == 0)
                    break;
                total += n;
            }
            return (SymbolDownloadStatus.Downloaded, Encoding.UTF8.GetString(bytes, 0, total), null);
        }
        catch (Exception e) when (IsTimeout(e, cancellationToken))
        {
            return (SymbolDownloadStatus.TimedOut, null, $"No answer for {url} within {Describe(Options.Timeout)}.");
        }
        catch (HttpRequestException e)
        {
            return (SymbolDownloadStatus.Failed, null, e.Message);
        }
    }

    private static bool IsTimeout(Exception e, CancellationToken callerToken) =>
        !callerToken.IsCancellationRequested &&
        (e is OperationCanceledException or TimeoutException ||
         e is HttpRequestException { InnerException: TimeoutException or OperationCanceledException } ||
         e is IOException { InnerException: TimeoutException or OperationCanceledException });

    private static string Describe(TimeSpan t) => t.TotalSeconds >= 1 ? $"{t.TotalSeconds:0.#} s" : $"{t.TotalMilliseconds:0} ms";

    private static string MemoryKey(string serverUrl, SymbolKey key) => serverUrl.TrimEnd('/') + "|" + key.RelativePath;

    private static void TryDelete(string path)
    {
        try
        {
            if (File.Exists(path))
                File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Joining keys to folders without ever leaving the folder.</summary>
internal static class StorePaths
{
    /// <summary><c>root/name/id/file</c>; throws when the result would not be inside <paramref name="root"/>.</summary>
    public static string Combine(string root, SymbolKey key) => Combine(root, key.Name, key.Id, key.FileName);

    public static string Combine(string root, params string[] segments)
    {
        string fullRoot = Path.GetFullPath(root);
        foreach (string segment in segments)
        {
            if (SymbolKey.NameProblem(segment) is { } problem)
                throw new ArgumentException($"Path segment rejected: {problem}", nameof(segments));
        }
        string combined = Path.GetFullPath(Path.Combine([fullRoot, .. segments]));
        string prefix = Path.EndsInDirectorySeparator(fullRoot) ? fullRoot : fullRoot + Path.DirectorySeparatorChar;
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        if (!combined.StartsWith(prefix, comparison))
            throw new ArgumentException($"'{combined}' is not inside '{fullRoot}'.", nameof(segments));
        return combined;
    }
}
