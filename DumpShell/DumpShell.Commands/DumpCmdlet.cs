using System.Management.Automation;
using DumpShell.Format.Elf;
using DumpShell.Format.Minidump;

namespace DumpShell.Commands;

/// <summary>
/// The base of every cmdlet that reads a dump: -Path (wildcards, pipeline by property name from
/// Get-ChildItem and from DumpShell's own objects) or -Dump (from Open-Dump); one ErrorRecord per dump that
/// cannot be opened, and one per problem in the streams the cmdlet read. Cmdlets hold no analysis logic.
/// </summary>
public abstract class DumpCmdlet : PSCmdlet
{
    protected const string PathSet = "Path";
    protected const string DumpSet = "Dump";

    /// <summary>Dump files; wildcards are expanded. Binds FullName from Get-ChildItem and DumpPath from DumpShell objects.</summary>
    [Parameter(ParameterSetName = PathSet, Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "DumpPath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>Dumps opened with Open-Dump.</summary>
    [Parameter(ParameterSetName = DumpSet, Mandatory = true, ValueFromPipeline = true)]
    [ValidateNotNull]
    public Dump[] Dump { get; set; } = [];

    /// <summary>
    /// Streams whose problems this cmdlet reports (header and directory problems are always reported);
    /// null reports every problem found in the file.
    /// </summary>
    protected abstract MinidumpStreamType[]? StreamsRead { get; }

    /// <summary>Writes this cmdlet's objects for one dump.</summary>
    protected abstract void ProcessDump(Dump dump);

    private DownloadProgress? _downloads;

    /// <summary>Symbol downloads shown as progress records, written on the pipeline thread (see <see cref="DownloadProgress"/>).</summary>
    internal DownloadProgress Downloads => _downloads ??= new DownloadProgress(this);

    protected override void ProcessRecord()
    {
        using (Downloads.Enter())
        {
            foreach (var dump in ParameterSetName == DumpSet ? Dump : DumpResolver.Open(this, Path))
            {
                try
                {
                    ProcessDump(dump);
                }
                catch (Exception e) when (e is not PipelineStoppedException and not PipelineClosedException)
                {
                    WriteError(new ErrorRecord(e, "DumpReadFailed", ErrorCategory.ReadError, dump.Path));
                }
                Downloads.Pump();
                ReportProblems(dump);
            }
            Downloads.Complete();
        }
    }

    /// <summary>
    /// An ELF core's problems name note types (NT_*), not streams: the notes that hold what a minidump stream holds.
    /// Memory lists have no note (PT_LOAD problems are header problems, always reported).
    /// </summary>
    private static uint[] ElfNotesFor(MinidumpStreamType stream) => stream switch
    {
        MinidumpStreamType.ThreadList or MinidumpStreamType.ThreadExList or MinidumpStreamType.ThreadInfoList
            or MinidumpStreamType.ThreadNames => [ElfNoteTypes.PrStatus],
        MinidumpStreamType.Exception => [ElfNoteTypes.SigInfo, ElfNoteTypes.PrStatus],
        MinidumpStreamType.ModuleList => [ElfNoteTypes.File],
        MinidumpStreamType.SystemInfo or MinidumpStreamType.MiscInfo => [ElfNoteTypes.PrPsInfo, ElfNoteTypes.Auxv],
        _ => [],
    };

    private void ReportProblems(Dump dump)
    {
        var streams = StreamsRead is null ? null
            : dump.ElfCore is null ? StreamsRead.Select(s => (uint)s).ToHashSet()
            : StreamsRead.SelectMany(ElfNotesFor).ToHashSet();
        foreach (var problem in dump.Problems.OrderBy(p => p.Stream ?? 0).ThenBy(p => p.ErrorId, StringComparer.Ordinal))
        {
            if (streams is not null && problem.Stream is { } s && !streams.Contains(s)) continue;
            var error = new ErrorRecord(new InvalidDataException(problem.Message), problem.ErrorId, ErrorCategory.InvalidData, dump.Path)
            {
                ErrorDetails = new ErrorDetails($"{dump.Path}: {problem.Message}"),
            };
            WriteError(error);
        }
    }
}
