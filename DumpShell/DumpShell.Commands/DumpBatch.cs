using System.Management.Automation;
using DumpShell.Format;
using DumpShell.Symbols;

namespace DumpShell.Commands;

/// <summary>
/// Runs one analysis per dump file for a cmdlet, streaming: a dump the session's cache did not already hold is opened
/// for its analysis only and closed right after (with its symbols), so memory stays bounded over thousands of files.
/// With a throttle limit above 1, up to that many dumps are analysed at once on worker threads; their output is
/// written from the pipeline thread, in input order. A dump that cannot be opened or analysed gives its errors and
/// the batch goes on. Progress is shown once more than one dump was queued.
/// </summary>
internal sealed class DumpBatch : IDisposable
{
    /// <summary>What one dump produced, for the pipeline thread to write.</summary>
    public sealed class Output
    {
        public List<object> Objects { get; } = [];
        public List<ErrorRecord> Errors { get; } = [];
    }

    private readonly PSCmdlet _cmdlet;
    private readonly int _throttle;
    private readonly Action<Dump, DumpSymbols, Output> _analyze;
    private readonly DumpCache _cache = DumpCache.Current;
    private readonly SymbolSession _session = SymbolSession.Current;
    private readonly SymbolStore? _store;
    private readonly bool _ownStore;
    private readonly Queue<(string Path, Task<Output> Task)> _running = new();
    // Symbol downloads of the dumps (on workers too: the relay flows into their tasks), written on the pipeline thread.
    private readonly DownloadProgress _downloads;
    private int _queued, _done;

    public DumpBatch(PSCmdlet cmdlet, int throttle, string? symbolPath, Action<Dump, DumpSymbols, Output> analyze)
    {
        _cmdlet = cmdlet;
        _throttle = Math.Max(1, throttle);
        _analyze = analyze;
        _downloads = new DownloadProgress(cmdlet);
        if (symbolPath is not null)
        {
            _store = SymbolSession.StoreFor(symbolPath);
            _ownStore = true;
        }
        else _store = _session.SharedStore();
    }

    /// <summary>Queues the files a -Path argument names (wildcards expanded); writes what finished meanwhile.</summary>
    public void Add(string path)
    {
        using var entered = _downloads.Enter();
        foreach (string file in DumpResolver.ResolveFiles(_cmdlet, path))
        {
            _queued++;
            if (_throttle == 1)
            {
                Progress(file);
                Write(Run(file));
                continue;
            }
            while (_running.Count >= _throttle) WriteOldest();
            Progress(file);
            _running.Enqueue((file, Task.Run(() => Run(file))));
        }
    }

    /// <summary>Waits for the dumps still running and writes their output.</summary>
    public void Complete()
    {
        using (_downloads.Enter())
        {
            while (_running.Count > 0) WriteOldest();
            _downloads.Complete();
        }
        if (_queued > 1)
            _cmdlet.WriteProgress(new ProgressRecord(1, _cmdlet.MyInvocation.MyCommand.Name, "Done") { RecordType = ProgressRecordType.Completed });
    }

    private void WriteOldest()
    {
        var (_, task) = _running.Dequeue();
        Write(SymbolProgressRelay.Wait(task));
    }

    private void Progress(string file)
    {
        if (_queued < 2) return;
        _cmdlet.WriteProgress(new ProgressRecord(1, _cmdlet.MyInvocation.MyCommand.Name,
            $"{_done} of {_queued} dumps done{(_throttle > 1 ? $" ({_throttle} at a time)" : "")}: {Path.GetFileName(file)}"));
    }

    private void Write(Output output)
    {
        _downloads.Pump();
        _done++;
        foreach (var error in output.Errors) _cmdlet.WriteError(error);
        foreach (var o in output.Objects) _cmdlet.WriteObject(o);
    }

    /// <summary>One dump, start to end, on any thread: nothing here writes to the pipeline.</summary>
    private Output Run(string file)
    {
        var output = new Output();
        var cached = _cache.TryGet(file);
        Dump? dump = cached;
        try
        {
            dump ??= Dump.Open(file);
        }
        catch (DumpFormatException e)
        {
            var category = e.ErrorId switch
            {
                "DumpFileNotFound" => ErrorCategory.ObjectNotFound,
                "PathIsDirectory" => ErrorCategory.InvalidArgument,
                _ => ErrorCategory.InvalidData,
            };
            output.Errors.Add(new ErrorRecord(e, e.ErrorId, category, file));
            return output;
        }
        catch (UnauthorizedAccessException e)
        {
            output.Errors.Add(new ErrorRecord(e, "DumpAccessDenied", ErrorCategory.PermissionDenied, file));
            return output;
        }
        catch (IOException e)
        {
            output.Errors.Add(new ErrorRecord(e, "DumpOpenFailed", ErrorCategory.ReadError, file));
            return output;
        }
        var symbols = new DumpSymbols(dump, _store);
        try
        {
            if (cached is not null)
                lock (cached) _analyze(dump, symbols, output);
            else _analyze(dump, symbols, output);
        }
        catch (Exception e) when (e is not PipelineStoppedException and not OperationCanceledException)
        {
            output.Errors.Add(new ErrorRecord(e, "DumpReadFailed", ErrorCategory.ReadError, file));
        }
        finally
        {
            foreach (var problem in dump.Problems.OrderBy(p => p.Stream ?? 0).ThenBy(p => p.ErrorId, StringComparer.Ordinal))
                output.Errors.Add(new ErrorRecord(new InvalidDataException(problem.Message), problem.ErrorId, ErrorCategory.InvalidData, file)
                {
                    ErrorDetails = new ErrorDetails($"{file}: {problem.Message}"),
                });
            symbols.Dispose();
            if (cached is null) dump.Dispose();
        }
        return output;
    }

    public void Dispose()
    {
        foreach (var (_, task) in _running)
            try { task.Wait(); } catch (AggregateException) { }
        _running.Clear();
        if (_ownStore) _store?.Dispose();
    }
}
