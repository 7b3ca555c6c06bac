using System.Management.Automation;
using DumpShell.Format.Minidump;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>Process memory from the dump as rows of values (db, dw, dd, dq, dp).</summary>
[Cmdlet(VerbsCommon.Get, "DumpMemory", DefaultParameterSetName = PathSet)]
[OutputType(typeof(DumpMemoryRow))]
public sealed class GetDumpMemoryCommand : DumpCmdlet
{
    /// <summary>The first address: a number, or hex as WinDbg takes it (0x..., ..., with ` separators).</summary>
    [Parameter(Mandatory = true, Position = 1)]
    public DumpAddress Address { get; set; }

    /// <summary>How many values (bytes for -Format Byte); WinDbg's L. Default: 128 bytes' worth.</summary>
    [Parameter]
    [ValidateRange(1, 16 * 1024 * 1024)]
    public int Count { get; set; }

    [Parameter]
    public MemoryFormat Format { get; set; } = MemoryFormat.Byte;

    protected override MinidumpStreamType[] StreamsRead => [MinidumpStreamType.MemoryList, MinidumpStreamType.Memory64List];

    protected override void ProcessDump(Dump dump)
    {
        if (!dump.Memory.Contains(Address.Value))
        {
            WriteError(new ErrorRecord(
                new InvalidOperationException($"Memory at {Address} is not in the dump {dump.Path}."),
                "MemoryNotInDump", ErrorCategory.ObjectNotFound, Address.ToString()));
            return;
        }
        int count = Count > 0 ? Count : dump.DefaultUnitCount(Format);
        foreach (var row in dump.ReadMemoryRows(Address.Value, count, Format)) WriteObject(row);
    }
}
