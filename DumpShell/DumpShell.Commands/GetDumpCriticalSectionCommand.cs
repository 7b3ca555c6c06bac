using System.Management.Automation;
using DumpShell.Analysis.Locks;
using DumpShell.Format.Minidump;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>
/// Critical sections (!cs, !cs -l, !locks): those the waiting threads' wait frames point at and those on ntdll's debug
/// list, with LockCount decoded in both meanings, owner, recursion and waiting threads.
/// </summary>
[Cmdlet(VerbsCommon.Get, "DumpCriticalSection", DefaultParameterSetName = PathSet)]
[OutputType(typeof(DumpCriticalSection))]
public sealed class GetDumpCriticalSectionCommand : DumpCmdlet
{
    /// <summary>Only locked critical sections (!locks, !cs -l).</summary>
    [Parameter]
    public SwitchParameter Locked { get; set; }

    /// <summary>One critical section by address (!cs &lt;address&gt;), read even when no wait points at it.</summary>
    [Parameter]
    public DumpAddress? Address { get; set; }

    /// <summary>A symbol path for this call only (WinDbg syntax).</summary>
    [Parameter]
    public string? SymbolPath { get; set; }

    protected override MinidumpStreamType[] StreamsRead =>
        [MinidumpStreamType.ThreadList, MinidumpStreamType.ModuleList, MinidumpStreamType.MemoryList, MinidumpStreamType.Memory64List];

    protected override void ProcessDump(Dump dump)
    {
        var symbols = SymbolSession.Current.For(dump, SymbolSession.ResolveFolders(this, SymbolPath));
        var locks = new LockAnalysis(dump, symbols.WalkOptions(LockAnalysis.MaxWalkFrames), a => symbols.Resolve(a)?.Text);
        if (Address is { } address)
        {
            if (locks.At(address.Value) is { } cs && (!Locked || cs.IsLocked)) WriteObject(cs);
            else if (locks.At(address.Value) is null)
                WriteError(new ErrorRecord(new InvalidOperationException($"{dump.Path}: memory at {address} is not in the dump."),
                    "MemoryNotInDump", ErrorCategory.ObjectNotFound, dump.Path));
            return;
        }
        foreach (var cs in locks.CriticalSections)
            if (!Locked || cs.IsLocked) WriteObject(cs);
    }
}
