using System.Management.Automation;
using DumpShell.Format.Minidump;
using DumpShell.Machine.Disassembly;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>
/// Disassembly of the dump's code (u, ub, uf): DisassemblyLine objects with bytes, MASM text and symbolized targets,
/// read from dump memory or the module's image file on the symbol path.
/// </summary>
[Cmdlet(VerbsCommon.Get, "DumpDisassembly", DefaultParameterSetName = PathSet)]
[OutputType(typeof(DisassemblyLine))]
public sealed class GetDumpDisassemblyCommand : DumpCmdlet
{
    /// <summary>Where to disassemble: a number, or hex as WinDbg takes it. Binds InstructionPointer from Get-DumpStack's frames.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("InstructionPointer")]
    public DumpAddress Address { get; set; }

    /// <summary>How many instructions (WinDbg's L): 16 by default, 8 with -Backward. Ignored with -Function.</summary>
    [Parameter]
    [ValidateRange(1, 100_000)]
    public int Count { get; set; }

    /// <summary>ub: the instructions that end at the address.</summary>
    [Parameter]
    public SwitchParameter Backward { get; set; }

    /// <summary>uf: the whole function containing the address, from its PDB/Breakpad range or the x64 function table.</summary>
    [Parameter]
    public SwitchParameter Function { get; set; }

    /// <summary>A symbol path for this call only (WinDbg syntax); otherwise Set-DumpSymbolPath's or _NT_SYMBOL_PATH.</summary>
    [Parameter]
    public string? SymbolPath { get; set; }

    protected override MinidumpStreamType[] StreamsRead =>
        [MinidumpStreamType.ModuleList, MinidumpStreamType.MemoryList, MinidumpStreamType.Memory64List];

    protected override void BeginProcessing()
    {
        if (Backward && Function)
            ThrowTerminatingError(new ErrorRecord(new ArgumentException("-Backward and -Function do not go together: ub lists what ends at an address, uf a whole function."),
                "BackwardWithFunction", ErrorCategory.InvalidArgument, null));
    }

    protected override void ProcessDump(Dump dump)
    {
        var symbols = SymbolSession.Current.For(dump, SymbolSession.ResolveFolders(this, SymbolPath));
        try
        {
            var disassembler = new Disassembler(dump, symbols);
            ulong address = Address.Value;
            var result = Function ? disassembler.Function(address)
                : Backward ? disassembler.Backward(address, Count > 0 ? Count : 8)
                : disassembler.Forward(address, Count > 0 ? Count : 16);
            if (result.Function is { } range)
                WriteVerbose($"{range.Name ?? "The function"}: {Hex.Address(range.Start, dump.PointerSize)}..{Hex.Address(range.End, dump.PointerSize)} from {range.Source}{(range.IsEstimate ? " (its size is an estimate)" : "")}.");
            if (result.ErrorId is { } id)
            {
                var category = id switch
                {
                    "UnsupportedArchitecture" => ErrorCategory.NotImplemented,
                    "FunctionTooLarge" => ErrorCategory.LimitsExceeded,
                    "NoInstructionEndsAtAddress" => ErrorCategory.InvalidData,
                    _ => ErrorCategory.ObjectNotFound,
                };
                WriteError(new ErrorRecord(new InvalidOperationException($"{result.Message} ({dump.Path})"), id, category, Address.ToString()));
                return;
            }
            foreach (var line in result.Lines) WriteObject(line);
        }
        finally
        {
            if (SymbolPath is not null) symbols.Dispose();
        }
    }
}
