using DumpShell.Machine;
using DumpShell.Machine.Unwind;
using DumpShell.Model;
using DumpShell.Tests.Synth;
using Xunit.Abstractions;
using SynthArch = DumpShell.Tests.Synth.ProcessorArchitecture;

namespace DumpShell.Tests.Engine;

/// <summary>
/// A synthetic 64-bit dump of a 32-bit (WOW64) process, written from the layouts the documentation gives (independently
/// of the engine's readers): x64 SystemInfo; modules ntdll.dll, wow64.dll, wow64cpu.dll (64-bit) and app32.exe (a PE32
/// image in memory); one thread whose 64-bit context is in wow64cpu, whose TEB64 (NT_TIB with the 64-bit stack bounds,
/// Self, ClientId) has TlsSlots[1] (WOW64_TLS_CPURESERVED, TEB64+0x1488) pointing to a CPU block (Flags, Machine,
/// then the x86 CONTEXT at +4), and whose TEB32 (TEB64+0x2000) gives the 32-bit stack bounds. The 32-bit stack is an
/// EBP chain through app32.exe: A (frame 0) ← B ← C ← D.
/// </summary>
public static class Wow64Synth
{
    public const uint ThreadId = 0x4321;
    public const ulong Teb64 = 0x7EFD_B000;
    public const ulong Teb32 = Teb64 + 0x2000;
    public const ulong CpuArea = 0x2_0001_0000;
    public const ulong Stack64Low = 0x2_0000_0000;
    public const int Stack64Size = 0x2000;
    public const ulong Rsp = Stack64Low + 0x100;
    public const ulong Wow64CpuBase = 0x7FF8_2000_0000, Wow64Base = 0x7FF8_1000_0000, Ntdll64Base = 0x7FF8_3000_0000;
    public const ulong Rip = Wow64CpuBase + 0x1234;

    public const ulong ExeBase = 0x400000;
    public const ulong Stack32Low = 0x100000;
    public const int Stack32Size = 0x4000;
    public const uint Esp = 0x100100, Ebp = 0x100110, Ebp2 = 0x100130, Ebp3 = 0x100150;
    public const uint FuncA = 0x1000, FuncB = 0x1100, FuncC = 0x1200, FuncD = 0x1300;
    public const uint CallInB = 0x1120, CallInC = 0x1240, CallInD = 0x1320;
    public const uint Eip = (uint)ExeBase + FuncA + 4;
    public static uint RetB => (uint)ExeBase + CallInB + 5;
    public static uint RetC => (uint)ExeBase + CallInC + 5;
    public static uint RetD => (uint)ExeBase + CallInD + 5;

    public enum Layout
    {
        /// <summary>Windows 10+: USHORT Flags, USHORT Machine (0x14C), the context at +4.</summary>
        Windows10,
        /// <summary>Windows 7/8: a 4-byte field (0 here), the context at +4.</summary>
        Windows7,
        /// <summary>A block whose Machine is ARM (0x1C4): no x86 context.</summary>
        ArmGuest,
        /// <summary>TlsSlots[1] is 0.</summary>
        NoCpuArea,
    }

    /// <param name="wow64Module">List wow64.dll (without it the dump is a plain x64 dump).</param>
    /// <param name="exception">Add an exception stream for the thread (its context the 64-bit one, as a 64-bit debugger writes it).</param>
    public static MinidumpBuilder Builder(Layout layout = Layout.Windows10, bool wow64Module = true, bool exception = false)
    {
        var b = new MinidumpBuilder { TimeDateStamp = 0x60000000 };
        b.AddSystemInfo(new SystemInfoSpec { ProcessorArchitecture = SynthArch.Amd64, PlatformId = WinConst.PlatformWin32Nt, CsdVersion = "" });

        // The 64-bit stack: one value that points into wow64.dll (a caller found by scanning, the dump has no code).
        var stack64 = new SynthStack(Stack64Low, Stack64Size);
        stack64.Put(Rsp + 0x28, Wow64Base + 0x2345);
        var stack64Block = b.AddMemory(stack64.Low, stack64.Bytes);

        // The 32-bit stack: an EBP chain A -> B -> C -> D; D's saved EBP is 0.
        var stack32 = new SynthStack(Stack32Low, Stack32Size);
        stack32.Put32(Ebp, Ebp2);
        stack32.Put32(Ebp + 4, RetB);
        stack32.Put32(Ebp2, Ebp3);
        stack32.Put32(Ebp2 + 4, RetC);
        stack32.Put32(Ebp3, 0);
        stack32.Put32(Ebp3 + 4, RetD);
        b.AddMemory(stack32.Low, stack32.Bytes);

        // app32.exe: a PE32 image with the calls the return addresses follow.
        var exe = new SynthImage(ExeBase, pe64: false) { WithExceptionDirectory = false };
        foreach (uint f in (uint[])[FuncA, FuncB, FuncC, FuncD]) exe.Code(f, Enumerable.Repeat((byte)0x90, 0x80).ToArray());
        exe.CallRel32(CallInB, FuncA);
        exe.CallRel32(CallInC, FuncB);
        exe.CallRel32(CallInD, FuncC);
        b.AddMemory(exe.Base, exe.Build());

        // TEB64 (0x2000 bytes) and TEB32 right above it.
        var teb = new byte[0x3000];
        void Put64(int at, ulong v) => BitConverter.TryWriteBytes(teb.AsSpan(at), v);
        void Put32(int at, uint v) => BitConverter.TryWriteBytes(teb.AsSpan(at), v);
        Put64(0x00, Teb32);                                  // NT_TIB.ExceptionList: the 32-bit TEB
        Put64(0x08, Stack64Low + Stack64Size);               // NT_TIB.StackBase
        Put64(0x10, Stack64Low);                             // NT_TIB.StackLimit
        Put64(0x30, Teb64);                                  // NT_TIB.Self
        Put64(0x48, ThreadId);                               // ClientId.UniqueThread
        Put64(0x1480 + 8, layout == Layout.NoCpuArea ? 0 : CpuArea); // TlsSlots[1] = WOW64_TLS_CPURESERVED
        Put32(0x2000 + 0x00, 0xFFFF_FFFF);                   // TEB32 NT_TIB.ExceptionList: end of chain
        Put32(0x2000 + 0x04, (uint)(Stack32Low + Stack32Size)); // StackBase
        Put32(0x2000 + 0x08, (uint)Stack32Low);              // StackLimit
        Put32(0x2000 + 0x18, (uint)Teb32);                   // Self
        Put32(0x2000 + 0x24, ThreadId);                      // ClientId.UniqueThread
        b.AddMemory(Teb64, teb);

        // The CPU block: Flags, Machine, then the WOW64_CONTEXT.
        var area = new Section("wow64-cpureserved");
        if (layout == Layout.Windows7) area.U32(0);
        else area.U16(0).U16(layout == Layout.ArmGuest ? (ushort)0x1C4 : (ushort)0x14C);
        area.Bytes(new X86Context { Eip = Eip, Esp = Esp, Ebp = Ebp, Ebx = 0xB1, Esi = 0x51, Edi = 0xD1, Eax = 0xA1 }.ToBytes());
        b.AddMemory(CpuArea, area);

        var modules = new List<ModuleSpec>
        {
            new() { BaseOfImage = ExeBase, SizeOfImage = SynthImage.Size, TimeDateStamp = SynthImage.TimeDateStamp, Name = @"C:\app\app32.exe" },
            new() { BaseOfImage = Ntdll64Base, SizeOfImage = 0x1F0000, TimeDateStamp = 0x1111, Name = @"C:\Windows\System32\ntdll.dll" },
            new() { BaseOfImage = Wow64CpuBase, SizeOfImage = 0x10000, TimeDateStamp = 0x3333, Name = @"C:\Windows\System32\wow64cpu.dll" },
        };
        if (wow64Module)
            modules.Add(new() { BaseOfImage = Wow64Base, SizeOfImage = 0x60000, TimeDateStamp = 0x2222, Name = @"C:\Windows\System32\wow64.dll" });
        b.AddModuleList(modules);

        var context = new Amd64Context { Rip = Rip, Rsp = Rsp, Rbp = 0 }.ToSection();
        b.AddThreadList(new ThreadSpec { ThreadId = ThreadId, Teb = Teb64, Stack = stack64Block, Context = context });
        if (exception)
            b.AddException(new ExceptionSpec
            {
                ThreadId = ThreadId, ExceptionCode = 0xC0000005, ExceptionAddress = Eip, Parameters = [1, 0],
                Context = new Amd64Context { Rip = Rip, Rsp = Rsp, Rbp = 0 }.ToSection(),
            });
        b.AddMemoryListOfAllBlocks();
        return b;
    }

    /// <summary>The 32-bit frames the walk must find: IP, Child-SP.</summary>
    public static (ulong Ip, ulong Sp)[] Expected32 =>
        [(Eip, Esp), (RetB, Ebp + 8), (RetC, Ebp2 + 8), (RetD, Ebp3 + 8)];
}

/// <summary>The 32-bit side of a WOW64 thread: its context from the save area, its TEB32 and stack, its x86 walk.</summary>
public class Wow64Tests(ITestOutputHelper output)
{
    private void Print(IEnumerable<StackFrame> frames)
    {
        foreach (var f in frames)
            output.WriteLine($"{f.Frame,3} sp={f.ChildSP:x} ip={f.InstructionPointer:x} ps={f.PointerSize} {f.Trust,-12} {f.Symbol}{(f.StopReason is null ? "" : "  <- " + f.StopReason)}");
    }

    [Theory]
    [InlineData(Wow64Synth.Layout.Windows10)]
    [InlineData(Wow64Synth.Layout.Windows7)]
    public void The_wow64_context_is_read_from_the_save_area(Wow64Synth.Layout layout)
    {
        using var files = new StackWalkDumpFiles();
        var dump = files.Open(Wow64Synth.Builder(layout));
        Assert.True(dump.IsWow64);
        Assert.Equal(CpuArchitecture.X64, dump.Architecture);
        var thread = dump.Threads.Single();
        Assert.Equal(Wow64Synth.CpuArea, dump.Wow64CpuArea(thread));
        var context = dump.Wow64Context(thread);
        Assert.NotNull(context);
        Assert.Equal(CpuArchitecture.X86, context!.Architecture);
        Assert.Equal(Wow64Synth.Eip, context.InstructionPointer);
        Assert.Equal(Wow64Synth.Esp, context.StackPointer);
        Assert.Equal(Wow64Synth.Ebp, context.FramePointer);
        Assert.Equal(0xB1UL, context.Get("ebx"));
        Assert.Equal(Wow64Synth.Teb32, dump.Wow64Teb32(thread));
    }

    [Fact]
    public void The_thread_s_32_bit_view_has_the_context_teb32_and_stack_bounds()
    {
        using var files = new StackWalkDumpFiles();
        var dump = files.Open(Wow64Synth.Builder());
        var thread = dump.Threads.Single();
        Assert.Equal(Wow64Synth.Rip, thread.InstructionPointer);            // the thread itself stays 64-bit
        Assert.Equal(Wow64Synth.Stack64Low, thread.StackLimit);
        var view = dump.Wow64Thread(thread);
        Assert.NotNull(view);
        Assert.Equal(thread.Id, view!.Id);
        Assert.Equal(CpuArchitecture.X86, view.Architecture);
        Assert.Equal(4, view.PointerSize);
        Assert.Equal(Wow64Synth.Teb32, view.Teb);
        Assert.Equal((ulong?)Wow64Synth.Eip, view.InstructionPointer);
        Assert.Equal((ulong?)Wow64Synth.Esp, view.StackPointer);
        Assert.Equal(Wow64Synth.Stack32Low + Wow64Synth.Stack32Size, view.StackBase);
        Assert.Equal(Wow64Synth.Stack32Low, view.StackLimit);
        Assert.Equal("TEB32", view.StackBoundsSource);
        Assert.Equal((ulong)Wow64Synth.Eip, view.Registers["eip"]);
    }

    [Fact]
    public void The_32_bit_stack_is_walked_as_x86_and_the_64_bit_stack_stays_available()
    {
        using var files = new StackWalkDumpFiles();
        var dump = files.Open(Wow64Synth.Builder());
        var thread = dump.Threads.Single();

        var frames32 = dump.WalkWow64Stack(thread);
        Print(frames32);
        Assert.Equal(Wow64Synth.Expected32, frames32.Select(f => (f.InstructionPointer, f.ChildSP)).ToArray());
        Assert.All(frames32, f => Assert.Equal(4, f.PointerSize));
        Assert.All(frames32, f => Assert.Equal("app32.exe", f.Module));
        Assert.Equal([FrameTrust.Context, FrameTrust.FramePointer, FrameTrust.FramePointer, FrameTrust.FramePointer], frames32.Select(f => f.Trust).ToArray());
        Assert.NotNull(frames32[^1].StopReason);

        // The same from the x86 context itself (a .cxr of the save area's record), bounded by TEB32.
        var fromContext = dump.WalkStack(thread.Id, dump.ReadContext(Wow64Synth.CpuArea + 4, CpuArchitecture.X86)!);
        Assert.Equal(frames32.Select(f => f.InstructionPointer), fromContext.Select(f => f.InstructionPointer));
        // And from registers by name (eip, no rip).
        using var walker = new StackWalker(dump);
        var fromRegisters = walker.Walk(thread.Id, dump.Wow64Context(thread)!.Registers);
        Assert.Equal(frames32.Select(f => f.InstructionPointer), fromRegisters.Select(f => f.InstructionPointer));

        var frames64 = dump.WalkStack(thread);
        Print(frames64);
        Assert.Equal(Wow64Synth.Rip, frames64[0].InstructionPointer);
        Assert.Equal(Wow64Synth.Rsp, frames64[0].ChildSP);
        Assert.All(frames64, f => Assert.Equal(8, f.PointerSize));
        Assert.Equal("wow64cpu.dll", frames64[0].Module);
    }

    [Fact]
    public void The_walk_with_symbols_options_is_the_same()
    {
        using var files = new StackWalkDumpFiles();
        var dump = files.Open(Wow64Synth.Builder());
        using var symbols = new Symbols.DumpSymbols(dump, null);
        var frames = dump.WalkWow64Stack(dump.Threads.Single(), symbols.WalkOptions());
        symbols.Annotate(frames);
        Print(frames);
        Assert.Equal(Wow64Synth.Expected32, frames.Select(f => (f.InstructionPointer, f.ChildSP)).ToArray());
        Assert.StartsWith("app32+0x", frames[1].Symbol);
    }

    [Theory]
    [InlineData(Wow64Synth.Layout.ArmGuest)]
    [InlineData(Wow64Synth.Layout.NoCpuArea)]
    public void No_x86_context_where_the_save_area_has_none(Wow64Synth.Layout layout)
    {
        using var files = new StackWalkDumpFiles();
        var dump = files.Open(Wow64Synth.Builder(layout));
        var thread = dump.Threads.Single();
        Assert.Null(dump.Wow64Context(thread));
        Assert.Null(dump.Wow64Thread(thread));
        Assert.Empty(dump.WalkWow64Stack(thread));
    }

    [Fact]
    public void Not_a_wow64_dump_without_wow64_dll_nor_in_an_x86_dump()
    {
        using var files = new StackWalkDumpFiles();
        var dump = files.Open(Wow64Synth.Builder(wow64Module: false));
        Assert.False(dump.IsWow64);
        Assert.Null(dump.Wow64Context(dump.Threads.Single()));
        Assert.Empty(dump.WalkWow64Stack(dump.Threads.Single()));

        // lldb's fizzbuzz_no_heap: a 32-bit dump of a WOW64 process written by a 32-bit debugger is plain x86.
        using var x86 = Dump.Open(TestData.Shared("lldb/fizzbuzz_no_heap.dmp"));
        Assert.Equal(CpuArchitecture.X86, x86.Architecture);
        Assert.False(x86.IsWow64);
        Assert.All(x86.Threads, t => Assert.Null(x86.Wow64Context(t)));
        // An x64 context cannot be walked in an x86 dump.
        var t0 = x86.Threads[0];
        Assert.Empty(x86.WalkStack(t0.Id, CpuContext.FromRegisters(CpuArchitecture.X64, new Dictionary<string, ulong> { ["rip"] = 1, ["rsp"] = 2 })));
        Assert.Null(x86.ReadContext(0x1000, CpuArchitecture.X64));
    }
}
