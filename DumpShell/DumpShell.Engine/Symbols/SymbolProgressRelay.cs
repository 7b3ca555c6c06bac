using System.Collections.Concurrent;

namespace DumpShell.Symbols;

/// <summary>
/// Carries symbol-download progress from wherever the download runs (a thread-pool thread of the HTTP client) to one
/// thread that may report it: a PowerShell pipeline thread, whose WriteProgress must not be called from elsewhere.
/// </summary>
/// <remarks>
/// <para>The reporting thread <see cref="Enter"/>s the relay. From then on, lookups started in that flow (and tasks it
/// starts: the relay is an <see cref="AsyncLocal{T}"/>) post their downloads' progress here, and a
/// <see cref="SymbolStore"/> lookup waited for synchronously on the entered thread (<see cref="Wait{T}"/>) reports the
/// posted progress while the download runs, not only after it. <see cref="Pump"/> reports what was posted at any other
/// point (e.g. between frames). Progress of one URL posted faster than it is reported is coalesced to its latest
/// state. The report callback runs only on the entered thread.</para>
/// </remarks>
public sealed class SymbolProgressRelay
{
    private static readonly AsyncLocal<SymbolProgressRelay?> CurrentFlow = new();
    [ThreadStatic] private static SymbolProgressRelay? t_entered;

    private readonly Action<SymbolDownloadProgress> _report;
    private readonly ConcurrentQueue<SymbolDownloadProgress> _posted = new();
    private readonly AutoResetEvent _signal = new(false);
    private int _pumping;

    /// <param name="report">Called on the entered thread with each download's progress.</param>
    public SymbolProgressRelay(Action<SymbolDownloadProgress> report) => _report = report ?? throw new ArgumentNullException(nameof(report));

    /// <summary>The relay of the current flow (set by <see cref="Enter"/> on this thread or on the thread that started this task), or null.</summary>
    public static SymbolProgressRelay? Current => CurrentFlow.Value;

    /// <summary>How many progress reports were delivered.</summary>
    public int Reported { get; private set; }

    /// <summary>Makes this relay the current one on this thread (and in what it starts) until the returned scope is disposed.</summary>
    public IDisposable Enter()
    {
        var previousFlow = CurrentFlow.Value;
        var previousThread = t_entered;
        CurrentFlow.Value = this;
        t_entered = this;
        return new Scope(() =>
        {
            CurrentFlow.Value = previousFlow;
            t_entered = previousThread;
        });
    }

    /// <summary>Records progress from any thread; it is reported at once on the entered thread, else at the next <see cref="Pump"/>.</summary>
    public void Post(SymbolDownloadProgress progress)
    {
        _posted.Enqueue(progress);
        _signal.Set();
        if (ReferenceEquals(t_entered, this)) Pump();
    }

    /// <summary>Reports what was posted; does nothing off the entered thread (or when called from within a report).</summary>
    public void Pump()
    {
        if (!ReferenceEquals(t_entered, this) || _posted.IsEmpty) return;
        if (Interlocked.Exchange(ref _pumping, 1) == 1) return;
        try
        {
            var batch = new List<SymbolDownloadProgress>();
            while (_posted.TryDequeue(out var p))
            {
                int same = batch.FindIndex(b => b.Url == p.Url);
                if (same >= 0) batch[same] = p;
                else batch.Add(p);
            }
            foreach (var p in batch)
            {
                Reported++;
                _report(p);
            }
        }
        finally
        {
            Volatile.Write(ref _pumping, 0);
        }
    }

    /// <summary>
    /// The result of <paramref name="task"/>, waited for on this thread. When this thread entered the current relay, its
    /// progress is reported while waiting.
    /// </summary>
    public static T Wait<T>(Task<T> task)
    {
        WaitCore(task);
        return task.GetAwaiter().GetResult();
    }

    /// <inheritdoc cref="Wait{T}(Task{T})"/>
    public static void Wait(Task task)
    {
        WaitCore(task);
        task.GetAwaiter().GetResult();
    }

    private static void WaitCore(Task task)
    {
        if (task.IsCompleted || t_entered is not { } relay) return;
        var handles = new[] { ((IAsyncResult)task).AsyncWaitHandle, relay._signal };
        while (!task.IsCompleted)
        {
            WaitHandle.WaitAny(handles, 250);
            relay.Pump();
        }
        relay.Pump();
    }

    /// <summary>"Downloading file from server: N of M bytes" for a download of a SymSrv URL (server/name/id/file).</summary>
    public static string Describe(SymbolDownloadProgress progress)
    {
        string url = progress.Url;
        string file = url, server = url;
        if (Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.IsAbsoluteUri && uri.Scheme is "http" or "https")
        {
            string path = uri.AbsolutePath.TrimEnd('/');
            string[] segments = path.Split('/');
            file = Uri.UnescapeDataString(segments[^1]);
            // The SymSrv key is the last three segments: name/id/file; the server is what comes before them.
            int keep = Math.Max(1, segments.Length - 3);
            server = uri.GetLeftPart(UriPartial.Authority) + string.Join('/', segments.Take(keep));
        }
        else file = Path.GetFileName(url);
        string amount = progress.TotalBytes is { } total ? $"{progress.BytesReceived} of {total} bytes" : $"{progress.BytesReceived} bytes";
        return $"Downloading {file} from {server}: {amount}";
    }

    private sealed class Scope(Action exit) : IDisposable
    {
        private Action? _exit = exit;

        public void Dispose() => Interlocked.Exchange(ref _exit, null)?.Invoke();
    }
}
