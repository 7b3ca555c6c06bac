using System.Management.Automation;
using DumpShell.Symbols;

namespace DumpShell.Commands;

/// <summary>
/// Symbol-server downloads as PowerShell progress ("Downloading x.pdb from http://server/symbols: N of M bytes").
/// The HTTP client reports from thread-pool threads; WriteProgress must be called on the pipeline thread. So the
/// cmdlet enters a <see cref="SymbolProgressRelay"/> on its pipeline thread: the symbol store posts to it, and the
/// pipeline thread writes the records while it waits for a lookup (and at <see cref="Pump"/>), never from elsewhere.
/// </summary>
internal sealed class DownloadProgress
{
    /// <summary>The progress activity of downloads (DumpBatch's per-dump progress is activity 1).</summary>
    public const int ActivityId = 2;

    private readonly PSCmdlet _cmdlet;
    private readonly SymbolProgressRelay _relay;
    private bool _shown;

    public DownloadProgress(PSCmdlet cmdlet)
    {
        _cmdlet = cmdlet;
        _relay = new SymbolProgressRelay(Write);
    }

    /// <summary>Downloads started on this (pipeline) thread until the scope ends, and in tasks it starts, report here.</summary>
    public IDisposable Enter() => _relay.Enter();

    /// <summary>Writes what worker threads posted since the last write (on the entered thread only).</summary>
    public void Pump() => _relay.Pump();

    /// <summary>Writes what is left, then completes the activity if anything was shown.</summary>
    public void Complete()
    {
        _relay.Pump();
        if (!_shown) return;
        _shown = false;
        _cmdlet.WriteProgress(new ProgressRecord(ActivityId, "Downloading symbols", "Done") { RecordType = ProgressRecordType.Completed });
    }

    private void Write(SymbolDownloadProgress progress)
    {
        var record = new ProgressRecord(ActivityId, "Downloading symbols", SymbolProgressRelay.Describe(progress));
        if (progress.TotalBytes is > 0 and { } total)
            record.PercentComplete = (int)Math.Clamp(progress.BytesReceived * 100 / total, 0, 100);
        _shown = true;
        _cmdlet.WriteProgress(record);
    }
}
