using System.Management.Automation;
using DumpShell.Analysis.Locks;
using DumpShell.Format.Minidump;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>
/// Wait chains: for each waiting thread, the object it waits on (critical section, a handle from HandleData, or, when the
/// dump has a CLR, the managed object whose Monitor it waits to enter), who holds it, followed to the chain's end; chains
/// that run into a cycle are deadlocks.
/// </summary>
[Cmdlet(VerbsCommon.Get, "DumpWaitChain", DefaultParameterSetName = PathSet)]
[OutputType(typeof(WaitChain))]
public sealed class GetDumpWaitChainCommand : DumpCmdlet
{
    /// <summary>Only chains that start at these OS thread ids; binds Id from Get-DumpThread's objects.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Id")]
    public uint[]? ThreadId { get; set; }

    /// <summary>A symbol path for this call only (WinDbg syntax).</summary>
    [Parameter]
    public string? SymbolPath { get; set; }

    protected override MinidumpStreamType[] StreamsRead =>
        [MinidumpStreamType.ThreadList, MinidumpStreamType.ModuleList, MinidumpStreamType.MemoryList, MinidumpStreamType.Memory64List,
         MinidumpStreamType.HandleData, MinidumpStreamType.ThreadInfoList];

    protected override void ProcessDump(Dump dump)
    {
        var symbols = SymbolSession.Current.For(dump, SymbolSession.ResolveFolders(this, SymbolPath));
        var locks = new LockAnalysis(dump, symbols.WalkOptions(LockAnalysis.MaxWalkFrames), a => symbols.Resolve(a)?.Text);
        foreach (var chain in locks.Chains)
            if (ThreadId is null || ThreadId.Contains(chain.ThreadId)) WriteObject(chain);
    }
}
