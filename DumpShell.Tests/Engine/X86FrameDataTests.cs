using DumpShell.Machine.Unwind;
using DumpShell.Model;
using DumpShell.Symbols;
using DumpShell.Symbols.Breakpad;
using DumpShell.Symbols.Pdb;
using DumpShell.Tests.Synth;
using Xunit.Abstractions;
using SynthArch = DumpShell.Tests.Synth.ProcessorArchitecture;

namespace DumpShell.Tests.Engine;

/// <summary>
/// x86 unwinding from frame data: PDB FRAMEDATA programs and FPO_DATA records (a PDB written by
/// <see cref="PdbBuilder"/>) and Breakpad STACK WIN records (a .sym written here as text), found through the symbol
/// path by <see cref="DumpSymbols"/>, on a synthetic x86 stack where neither the EBP chain nor a stack scan finds
/// the right callers.
/// </summary>
public class X86FrameDataTests(ITestOutputHelper output)
{
    // ------------------------------------------------------------------ the synthetic process

    private const ulong ImageBase = 0x400000;
    private const ulong StackLow = 0x100000;
    private const int StackSize = 0x4000;
    private const uint Sp0 = (uint)StackLow + 0x100;

    // A: FPO (FRAMEDATA program, saves EBX); B: FPO (FPO_DATA record, no program); C: EBP frame (FRAMEDATA);
    // D: EBP frame (FPO_DATA FRAME_NONFPO), the outermost, returning to 0.
    private const uint FuncA = 0x1000, FuncAEnd = 0x1040;
    private const uint FuncB = 0x1100, FuncBEnd = 0x1200;
    private const uint FuncC = 0x1200, FuncCEnd = 0x1280;
    private const uint FuncD = 0x1300, FuncDEnd = 0x1380;
    private const uint CallInB = 0x1120, CallInC = 0x1240, CallInD = 0x1320, StaleCallInD = 0x1340;
    private const uint RetB = CallInB + 5, RetC = CallInC + 5, RetD = CallInD + 5, RetStale = StaleCallInD + 5;

    private const uint IpA = (uint)ImageBase + FuncA + 0x10;
    private const uint EspB = Sp0 + 16;                    // A: 8 bytes of locals, EBX, return address
    private const uint EspC = EspB + 8 + 16 + 4 + 4;      // B: A's 8 bytes of parameters, 16 of locals, ESI, return address
    private const uint EbpC = EspC + 4 + 16;               // C's frame: above B's parameter and 16 bytes of locals
    private const uint EspD = EbpC + 8;
    private const uint EbpD = (uint)StackLow + 0x180;

    private const uint SavedEbx = 0xB0B0_B0B0;            // the caller's EBX, saved by A
    private const uint EbxInA = 0x1234_5678, EsiInA = 0x5E5E_5E5E;

    public const string ProgramA = "$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + = $ebx $T0 4 - ^ =";
    public const string ProgramEbp = "$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =";

    private static SynthImage Image()
    {
        var image = new SynthImage(ImageBase, pe64: false) { WithExceptionDirectory = false };
        image.Code(FuncA, Enumerable.Repeat((byte)0x90, (int)(FuncAEnd - FuncA)).ToArray());
        image.Code(FuncB, Enumerable.Repeat((byte)0x90, (int)(FuncBEnd - FuncB)).ToArray());
        image.Code(FuncC, Enumerable.Repeat((byte)0x90, (int)(FuncCEnd - FuncC)).ToArray());
        image.Code(FuncD, Enumerable.Repeat((byte)0x90, (int)(FuncDEnd - FuncD)).ToArray());
        image.CallRel32(CallInB, FuncA);
        image.CallRel32(CallInC, FuncB);
        image.CallRel32(CallInD, FuncC);
        image.CallRel32(StaleCallInD, FuncC); // an earlier call whose return address was left on the stack
        return image;
    }

    private static uint Va(uint rva) => (uint)ImageBase + rva;

    private static SynthStack Stack()
    {
        var s = new SynthStack(StackLow, StackSize);
        // A (frame 0): locals [Sp0, Sp0+8) hold a stale return address the code proves (a scan takes it), then EBX, then
        // the return address into B; A's 8 bytes of parameters above.
        s.Put32(Sp0, 0x1111_1111);
        s.Put32(Sp0 + 4, Va(RetStale));
        s.Put32(Sp0 + 8, SavedEbx);
        s.Put32(Sp0 + 12, Va(RetB));
        s.Put32(Sp0 + 16, 1);
        s.Put32(Sp0 + 20, 2);
        // B: .raSearch = ESP + A's parameters + locals + saved registers.
        s.Put32(EspB + 8, 0x2222_2222);
        s.Put32(EspB + 24, 0xE51E_51E5);                  // saved ESI
        s.Put32(EspB + 28, Va(RetC));
        s.Put32(EspC, 3);                                 // B's parameter
        // C: a standard EBP frame.
        s.Put32(EbpC, EbpD);
        s.Put32(EbpC + 4, Va(RetD));
        // D: the outermost frame: saved EBP 0, return address 0.
        s.Put32(EbpD, 0);
        s.Put32(EbpD + 4, 0);
        return s;
    }

    private static MinidumpBuilder Builder()
    {
        var image = Image();
        var stack = Stack();
        var b = new MinidumpBuilder { TimeDateStamp = 0x60000000 };
        b.AddSystemInfo(new SystemInfoSpec { ProcessorArchitecture = SynthArch.X86, PlatformId = WinConst.PlatformWin32Nt, CsdVersion = "" });
        var stackBlock = b.AddMemory(stack.Low, stack.Bytes);
        b.AddMemory(image.Base, image.Build());
        b.AddModuleList(new ModuleSpec
        {
            BaseOfImage = image.Base, SizeOfImage = SynthImage.Size, TimeDateStamp = SynthImage.TimeDateStamp, Name = @"C:\synth\synth.dll",
            CvRecord = Synth.CodeView.Rsds(PdbBuilder.SyntheticGuid, PdbBuilder.SyntheticDbiAge, @"c:\build\synth.pdb"),
        });
        var context = new X86Context { Eip = IpA, Esp = Sp0, Ebp = EbpC, Ebx = EbxInA, Esi = EsiInA }.ToSection();
        b.AddThreadList(new ThreadSpec { ThreadId = SynthStackDump.ThreadId, Stack = stackBlock, Context = context });
        b.AddMemoryListOfAllBlocks();
        return b;
    }

    // ------------------------------------------------------------------ the symbols

    private static readonly PdbBuilder.FrameDataSpec[] FrameDataRecords =
    [
        new(FuncA, FuncAEnd - FuncA, LocalsSize: 8, ParamsSize: 8, ProgramA, SavedRegistersSize: 4),
        new(FuncC, FuncCEnd - FuncC, LocalsSize: 16, ParamsSize: 4, ProgramEbp, PrologSize: 3),
    ];

    private static readonly PdbBuilder.FpoSpec[] FpoRecords =
    [
        new(FuncB, FuncBEnd - FuncB, LocalsDwords: 4, ParamsDwords: 1, SavedRegisters: 1),
        new(FuncD, FuncDEnd - FuncD, LocalsDwords: 0, ParamsDwords: 0, SavedRegisters: 0, PrologSize: 3, UsesBasePointer: true, FrameType: 3),
    ];

    private static byte[] Pdb() => PdbBuilder.BuildSynthetic(frameData: FrameDataRecords, fpoData: FpoRecords);

    private static string DebugId => $"{PdbBuilder.SyntheticGuid:N}{PdbBuilder.SyntheticDbiAge:X}".ToUpperInvariant();

    /// <summary>The same frames as STACK WIN records (type rva size prolog epilog params saved locals maxstack hasprogram program|bp).</summary>
    private static string Sym() => $"""
        MODULE windows x86 {DebugId} synth.pdb
        PUBLIC {FuncA:x} 0 func_a
        STACK WIN 4 {FuncA:x} {FuncAEnd - FuncA:x} 0 0 8 4 8 0 1 {ProgramA}
        STACK WIN 0 {FuncB:x} {FuncBEnd - FuncB:x} 0 0 4 4 10 0 0 0
        STACK WIN 4 {FuncC:x} {FuncCEnd - FuncC:x} 3 0 4 0 10 0 1 {ProgramEbp}
        STACK WIN 4 {FuncD:x} {FuncDEnd - FuncD:x} 3 0 0 0 0 0 1 {ProgramEbp}
        """;

    /// <summary>A symbol store folder (SymSrv layout) holding the PDB, the .sym, or neither.</summary>
    private sealed class Store : IDisposable
    {
        private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("dumpshell-x86fd-");

        public Store(bool pdb, bool sym)
        {
            string dir = Path.Combine(_folder.FullName, "symbols", "synth.pdb", DebugId);
            Directory.CreateDirectory(dir);
            if (pdb) File.WriteAllBytes(Path.Combine(dir, "synth.pdb"), Pdb());
            if (sym) File.WriteAllText(Path.Combine(dir, "synth.sym"), Sym());
            Directory.CreateDirectory(Path.Combine(_folder.FullName, "cache"));
            SymbolStore = new SymbolStore(SymbolPath.Parse(Path.Combine(_folder.FullName, "symbols")),
                new SymbolStoreOptions { CacheDirectory = Path.Combine(_folder.FullName, "cache") });
        }

        public SymbolStore SymbolStore { get; }

        public void Dispose()
        {
            SymbolStore.Dispose();
            try { _folder.Delete(recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    private void Print(IEnumerable<StackFrame> frames)
    {
        foreach (var f in frames)
            output.WriteLine($"{f.Frame,3} sp={f.ChildSP:x8} ip={f.InstructionPointer:x8} fp={f.FramePointer:x8} {f.Trust,-12} {f.Symbol}{(f.StopReason is null ? "" : "  <- " + f.StopReason)}");
    }

    private IReadOnlyList<StackFrame> WalkWith(bool pdb, bool sym, out SymbolSource source)
    {
        using var files = new StackWalkDumpFiles();
        using var store = new Store(pdb, sym);
        var dump = files.Open(Builder());
        using var symbols = new DumpSymbols(dump, store.SymbolStore);
        var frames = dump.WalkStack(dump.Threads.Single(), symbols.WalkOptions());
        source = symbols.For(dump.Modules.Single()).Source;
        Print(frames);
        return frames;
    }

    private static readonly ulong[] RightCallers = [IpA, Va(RetB), Va(RetC), Va(RetD)];

    private static void AssertUnwoundByFrameData(IReadOnlyList<StackFrame> frames)
    {
        Assert.Equal(RightCallers, frames.Select(f => f.InstructionPointer).ToArray());
        Assert.Equal([FrameTrust.Context, FrameTrust.UnwindInfo, FrameTrust.UnwindInfo, FrameTrust.UnwindInfo], frames.Select(f => f.Trust).ToArray());
        Assert.Equal([(ulong)Sp0, EspB, EspC, EspD], frames.Select(f => f.ChildSP).ToArray());
        // EBP is carried through A and B (they do not use it), then restored by C's program.
        Assert.Equal([(ulong?)EbpC, EbpC, EbpC, EbpD], frames.Select(f => f.FramePointer).ToArray());
        Assert.All(frames, f => Assert.Equal(4, f.PointerSize));
        Assert.Contains("return address is 0", frames[^1].StopReason);
        Assert.All(frames.SkipLast(1), f => Assert.Null(f.StopReason));
    }

    // ------------------------------------------------------------------ walks

    [Fact]
    public void Pdb_frame_data_and_fpo_records_find_the_callers_the_ebp_chain_and_the_scan_miss()
    {
        var frames = WalkWith(pdb: true, sym: false, out var source);
        Assert.Equal(SymbolSource.Pdb, source);
        AssertUnwoundByFrameData(frames);
    }

    [Fact]
    public void Breakpad_stack_win_records_give_the_same_walk()
    {
        var frames = WalkWith(pdb: false, sym: true, out var source);
        Assert.Equal(SymbolSource.BreakpadSym, source);
        AssertUnwoundByFrameData(frames);
    }

    [Fact]
    public void Without_symbols_the_walk_falls_back_to_the_frame_pointer_and_scanning()
    {
        var frames = WalkWith(pdb: false, sym: false, out var source);
        Assert.NotEqual(SymbolSource.Pdb, source);
        Assert.Equal(FrameTrust.Context, frames[0].Trust);
        Assert.All(frames.Skip(1), f => Assert.True(f.Trust is FrameTrust.FramePointer or FrameTrust.Scan, $"frame {f.Frame}: {f.Trust}"));
        // The stale return address in A's locals is taken for A's caller: the data the PDB has is what finds B.
        Assert.Equal(Va(RetStale), frames[1].InstructionPointer);
        Assert.Equal(FrameTrust.Scan, frames[1].Trust);
        Assert.NotEqual(RightCallers, frames.Select(f => f.InstructionPointer).Take(RightCallers.Length).ToArray());
    }

    [Fact]
    public void The_ebp_chain_alone_skips_the_fpo_frames()
    {
        using var files = new StackWalkDumpFiles();
        var dump = files.Open(Builder());
        var frames = dump.WalkStack(dump.Threads.Single(), new StackWalkOptions { UseScan = false });
        Print(frames);
        Assert.Equal(Va(RetD), frames[1].InstructionPointer); // B and C are skipped
        Assert.Equal(FrameTrust.FramePointer, frames[1].Trust);
    }

    [Fact]
    public void A_failing_program_falls_back_and_says_why()
    {
        // A's program reads outside the dump: the walker falls back (no scan, no frame pointer: it stops) and the
        // stop reason names the frame data's failure.
        using var files = new StackWalkDumpFiles();
        var dump = files.Open(Builder());
        using var pdb = PdbFile.FromMemory(PdbBuilder.BuildSynthetic(
            frameData: [new(FuncA, FuncAEnd - FuncA, 8, 8, "$eip 0x10 ^ = $esp $esp 4 + =")], fpoData: []));
        var options = new StackWalkOptions { X86FrameData = new X86FrameData(_ => pdb), UseScan = false, UseFramePointer = false };
        var frames = dump.WalkStack(dump.Threads.Single(), options);
        Print(frames);
        Assert.Single(frames);
        Assert.Contains("PDB FRAMEDATA", frames[0].StopReason);
        Assert.Contains("0x10 is not in the dump", frames[0].StopReason);
    }

    // ------------------------------------------------------------------ the source on its own

    private static X86UnwindRequest Request(DumpModule module, uint rva, bool returnAddress, X86Registers registers, Func<ulong, uint?> read,
        X86UnwindRequest? callee = null) => new()
    {
        Module = module,
        Rva = rva,
        IsReturnAddress = returnAddress,
        Registers = registers,
        StackLow = StackLow,
        StackHigh = StackLow + StackSize,
        ReadUInt32 = read,
        Callee = callee,
    };

    [Fact]
    public void The_source_restores_the_registers_the_program_names()
    {
        using var files = new StackWalkDumpFiles();
        var dump = files.Open(Builder());
        var module = dump.Modules.Single();
        using var pdb = PdbFile.FromMemory(Pdb());
        var source = new X86FrameData(m => m == module ? pdb : null);
        Func<ulong, uint?> read = a => dump.Memory.TryReadUInt32(a, out uint v) ? v : null;

        var a = Request(module, FuncA + 0x10, false, new X86Registers(IpA, Sp0, EbpC, EbxInA, EsiInA, 0xED1, 0xEA, 0xEC, 0xED), read);
        Assert.True(source.TryUnwind(a, out var b, out string? failure), failure);
        Assert.Equal(Va(RetB), b.Eip);
        Assert.Equal(EspB, b.Esp);
        Assert.Equal(SavedEbx, b.Ebx);     // restored: the program reads it
        Assert.Equal(EsiInA, b.Esi);       // not named: carried over
        Assert.Equal(EbpC, b.Ebp);

        // B's record is FPO_DATA; its caller's ESP is above A's parameters (.cbCalleeParams from A's record).
        var requestB = Request(module, RetB, true, b, read, callee: a);
        Assert.True(source.TryUnwind(requestB, out var c, out failure), failure);
        Assert.Equal(Va(RetC), c.Eip);
        Assert.Equal(EspC, c.Esp);
        // Without the callee, .raSearch misses by A's 8 bytes of parameters and lands on B's locals.
        Assert.True(source.TryUnwind(Request(module, RetB, true, b, read), out var wrong, out _));
        Assert.NotEqual(Va(RetC), wrong.Eip);

        Assert.Equal("PDB FPO", source.Find(module, RetB - 1)!.Source);
        Assert.Equal("PDB FRAMEDATA", source.Find(module, FuncA)!.Source);
        Assert.Equal(X86FrameKind.Standard, source.Find(module, FuncD + 0x20)!.Kind);
        Assert.Null(source.Find(module, 0x1090));          // between functions: no data
        Assert.False(source.TryUnwind(Request(module, 0x1090, false, b, read), out _, out failure));
        Assert.Null(failure);                             // no record is not a failure
    }

    [Fact]
    public void A_return_address_is_looked_up_one_byte_back()
    {
        // A call that ends a function: its return address is the next function's first byte.
        using var pdb = PdbFile.FromMemory(PdbBuilder.BuildSynthetic(
            frameData: [new(0x1000, 0x10, 0, 0, "$eip 1 = $esp 100 ="), new(0x1010, 0x10, 0, 0, "$eip 2 = $esp 200 =")], fpoData: []));
        var module = new DumpModule { DumpPath = "x", Name = "m.dll", BaseAddress = ImageBase, Size = 0x5000 };
        var source = new X86FrameData(_ => pdb);
        var regs = new X86Registers(0, 0, 0, 0, 0, 0, 0, 0, 0);
        Assert.True(source.TryUnwind(Request(module, 0x1010, true, regs, _ => null), out var caller));
        Assert.Equal(1u, caller.Eip);
        Assert.True(source.TryUnwind(Request(module, 0x1010, false, regs, _ => null), out caller));
        Assert.Equal(2u, caller.Eip);
    }

    [Fact]
    public void Fpo_records_with_a_base_pointer_restore_ebp_from_the_saved_registers_and_prologs_are_respected()
    {
        // STACK WIN 0 with allocates_base_pointer: EBP = [ESP + callee params + saved regs - 8] (Breakpad's program).
        var sym = SymbolFile.Parse($"""
            MODULE windows x86 {DebugId} synth.pdb
            STACK WIN 0 1000 100 0 0 0 8 4 0 0 1
            """);
        var module = new DumpModule { DumpPath = "x", Name = "m.dll", BaseAddress = ImageBase, Size = 0x5000 };
        var source = new X86FrameData(null, _ => sym);
        // ESP 0x2000, no callee parameters, 4 bytes of locals and 8 of saved registers: the return address at 0x200C,
        // EBP where Breakpad's program reads it, [ESP + .cbCalleeParams + .cbSavedRegs - 8] = [0x2000].
        var memory = new Dictionary<ulong, uint> { [0x2000] = 0xEB9_0000, [0x2004] = 0x77, [0x2008] = 0x88, [0x200C] = Va(RetB) };
        var regs = new X86Registers(Va(0x1010), 0x2000, 0x1234, 1, 2, 3, 0, 0, 0);
        Assert.True(source.TryUnwind(Request(module, 0x1010, false, regs, a => memory.TryGetValue(a, out uint v) ? v : null), out var caller, out var failure), failure);
        Assert.Equal(Va(RetB), caller.Eip);
        Assert.Equal(0x2010u, caller.Esp);
        Assert.Equal(0xEB9_0000u, caller.Ebp);

        // FRAME_NONFPO: the EBP program, except in the context frame's prolog (EBP is not set up yet).
        using var pdb = PdbFile.FromMemory(PdbBuilder.BuildSynthetic(frameData: [],
            fpoData: [new(0x1000, 0x40, 0, 0, 0, PrologSize: 3, UsesBasePointer: true, FrameType: 3), new(0x1100, 0x40, 0, 0, 0, FrameType: 1)]));
        var pdbSource = new X86FrameData(_ => pdb);
        var ebpMemory = new Dictionary<ulong, uint> { [0x3000] = 0x3100, [0x3004] = Va(RetC) };
        Func<ulong, uint?> read = a => ebpMemory.TryGetValue(a, out uint v) ? v : null;
        var inBody = new X86Registers(Va(0x1010), 0x2F00, 0x3000, 0, 0, 0, 0, 0, 0);
        Assert.True(pdbSource.TryUnwind(Request(module, 0x1010, false, inBody, read), out caller));
        Assert.Equal((Va(RetC), 0x3008u, 0x3100u), (caller.Eip, caller.Esp, caller.Ebp));
        Assert.False(pdbSource.TryUnwind(Request(module, 0x1001, false, inBody, read), out _, out failure));
        Assert.Contains("prolog", failure);
        Assert.True(pdbSource.TryUnwind(Request(module, 0x1002, true, inBody, read), out _)); // a return address is past any prolog
        Assert.False(pdbSource.TryUnwind(Request(module, 0x1110, false, inBody, read), out _, out failure));
        Assert.Contains("trap", failure);
    }

    [Fact]
    public void Programs_that_align_search_from_ebp()
    {
        // A function that aligned ESP: .raSearch is EBP + 4, not ESP + sizes (Breakpad).
        using var pdb = PdbFile.FromMemory(PdbBuilder.BuildSynthetic(
            frameData: [new(0x1000, 0x40, 0x100, 0, "$T1 .raSearch = $T0 $T1 4 - 8 @ = $ebp $T1 4 - ^ = $eip $T1 ^ = $esp $T1 4 + =")], fpoData: []));
        var module = new DumpModule { DumpPath = "x", Name = "m.dll", BaseAddress = ImageBase, Size = 0x5000 };
        var memory = new Dictionary<ulong, uint> { [0x3000] = 0x3200, [0x3004] = Va(RetD) };
        var regs = new X86Registers(Va(0x1010), 0x2E08, 0x3000, 0, 0, 0, 0, 0, 0);
        Assert.True(new X86FrameData(_ => pdb).TryUnwind(Request(module, 0x1010, false, regs, a => memory.TryGetValue(a, out uint v) ? v : null),
            out var caller, out var failure), failure);
        Assert.Equal((Va(RetD), 0x3008u, 0x3200u), (caller.Eip, caller.Esp, caller.Ebp));
    }

    [Fact]
    public void Hostile_frame_data_never_throws()
    {
        string[] programs =
        [
            "$eip 1 0 / =", "$eip", "$eip $esp ^ ^ ^ ^ =", "$eip 0 = $esp 0 =", "garbage", "$eip 4 = ",
            string.Join(' ', Enumerable.Repeat("$esp", 10_000)), "$esp $esp 4 - =",
        ];
        var module = new DumpModule { DumpPath = "x", Name = "m.dll", BaseAddress = ImageBase, Size = 0x5000 };
        var regs = new X86Registers(Va(0x1010), 0x2000, 0x3000, 0, 0, 0, 0, 0, 0);
        foreach (string program in programs)
        {
            using var pdb = PdbFile.FromMemory(PdbBuilder.BuildSynthetic(frameData: [new(0x1000, 0x40, 0, 0, program)], fpoData: []));
            var source = new X86FrameData(_ => pdb);
            bool ok = source.TryUnwind(Request(module, 0x1010, false, regs, a => (uint)a), out _, out string? failure);
            Assert.True(ok || failure is not null, program);
        }
        // A source whose symbol lookup throws gives no data.
        var throwing = new X86FrameData(_ => throw new IOException("gone"), _ => throw new InvalidDataException("bad"));
        Assert.False(throwing.TryUnwind(Request(module, 0x1010, false, regs, _ => 0), out _));
    }
}
