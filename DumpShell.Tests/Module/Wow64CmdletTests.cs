using System.Management.Automation;
using DumpShell.Machine;
using DumpShell.Model;
using DumpShell.Tests.Engine;

namespace DumpShell.Tests.Module;

/// <summary>Get-DumpStack -Wow64 and Get-DumpThread -Wow64 on a synthetic 64-bit dump of a 32-bit process (<see cref="Wow64Synth"/>).</summary>
public sealed class Wow64CmdletTests(ModuleFixture fixture) : IClassFixture<ModuleFixture>, IDisposable
{
    private readonly Cli.ModuleSession _ps = fixture.Session;
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("dumpshell-wow64-");

    private string Write(Synth.MinidumpBuilder builder, string name)
    {
        string path = Path.Combine(_folder.FullName, name);
        builder.WriteTo(path);
        return path;
    }

    public void Dispose()
    {
        try { _folder.Delete(recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static string Id(ErrorRecord e) => e.FullyQualifiedErrorId.Split(',')[0];

    [Fact]
    public void Get_DumpStack_Wow64_gives_the_32_bit_frames()
    {
        string dump = Write(Wow64Synth.Builder(), "wow64.dmp");
        var r = _ps.Invoke("Get-DumpStack -Path $args[0] -Wow64", dump);
        Assert.Empty(r.Errors);
        var frames = r.BaseObjects.OfType<StackFrame>().ToArray();
        Assert.Equal(Wow64Synth.Expected32, frames.Select(f => (f.InstructionPointer, f.ChildSP)).ToArray());
        Assert.All(frames, f => Assert.Equal(4, f.PointerSize));
        Assert.All(frames, f => Assert.Equal(Wow64Synth.ThreadId, f.ThreadId));
        Assert.Equal(FrameTrust.Context, frames[0].Trust);
        Assert.StartsWith("app32+0x", frames[1].Symbol);
        Assert.NotNull(frames[^1].StopReason);

        // Thread objects pipe in.
        var piped = _ps.Invoke("Get-DumpThread -Path $args[0] | Get-DumpStack -Path $args[0] -Wow64", dump);
        Assert.Empty(piped.Errors);
        Assert.Equal(frames.Select(f => f.InstructionPointer), piped.BaseObjects.OfType<StackFrame>().Select(f => f.InstructionPointer));

        // -Context with -Wow64 takes an x86 CONTEXT (the save area's record).
        var cxr = _ps.Invoke($"Get-DumpStack -Path $args[0] -Wow64 -Index 0 -Context 0x{Wow64Synth.CpuArea + 4:x}", dump);
        Assert.Empty(cxr.Errors);
        Assert.Equal(frames.Select(f => f.InstructionPointer), cxr.BaseObjects.OfType<StackFrame>().Select(f => f.InstructionPointer));

        // -Exception with -Wow64: the exception thread's 32-bit side.
        string crashed = Write(Wow64Synth.Builder(exception: true), "wow64-crash.dmp");
        var ecxr = _ps.Invoke("Get-DumpStack -Path $args[0] -Wow64 -Exception", crashed);
        Assert.Empty(ecxr.Errors);
        Assert.Equal(frames.Select(f => f.InstructionPointer), ecxr.BaseObjects.OfType<StackFrame>().Select(f => f.InstructionPointer));
        var native = _ps.Invoke("Get-DumpStack -Path $args[0] -Exception", crashed).BaseObjects.OfType<StackFrame>().ToArray();
        Assert.Equal(Wow64Synth.Rip, native[0].InstructionPointer);

        // -Raw lists 64-bit slots: not combined with -Wow64.
        Assert.Equal("Wow64WithRaw", Id(Assert.Single(_ps.Invoke("Get-DumpStack -Path $args[0] -Wow64 -Raw", dump).Errors)));

        // The k view prints 32-bit frames.
        string text = _ps.Render($"Get-DumpStack -Path '{dump}' -Wow64");
        Assert.Contains("app32+0x", text);
        Assert.DoesNotContain("#ERR", text);
    }

    [Fact]
    public void Without_Wow64_the_64_bit_stack_is_given()
    {
        string dump = Write(Wow64Synth.Builder(), "wow64-native.dmp");
        var r = _ps.Invoke("Get-DumpStack -Path $args[0]", dump);
        Assert.Empty(r.Errors);
        var frames = r.BaseObjects.OfType<StackFrame>().ToArray();
        Assert.NotEmpty(frames);
        Assert.Equal(Wow64Synth.Rip, frames[0].InstructionPointer);
        Assert.All(frames, f => Assert.Equal(8, f.PointerSize));
        Assert.StartsWith("wow64cpu+0x", frames[0].Symbol);
    }

    [Fact]
    public void Get_DumpThread_Wow64_shows_the_32_bit_registers()
    {
        string dump = Write(Wow64Synth.Builder(), "wow64-threads.dmp");
        var native = _ps.Invoke("Get-DumpThread -Path $args[0]", dump).BaseObjects.OfType<DumpThread>().Single();
        Assert.Equal(CpuArchitecture.X64, native.Architecture);
        Assert.Equal(Wow64Synth.Rip, native.InstructionPointer);

        var r = _ps.Invoke("Get-DumpThread -Path $args[0] -Wow64", dump);
        Assert.Empty(r.Errors);
        var thread = r.BaseObjects.OfType<DumpThread>().Single();
        Assert.Equal(CpuArchitecture.X86, thread.Architecture);
        Assert.Equal(4, thread.PointerSize);
        Assert.Equal((ulong?)Wow64Synth.Eip, thread.InstructionPointer);
        Assert.Equal((ulong?)Wow64Synth.Esp, thread.StackPointer);
        Assert.Equal(Wow64Synth.Teb32, thread.Teb);
        Assert.Equal(0xB1UL, thread.Registers["ebx"]);
        Assert.DoesNotContain("#ERR", _ps.Render($"Get-DumpThread -Path '{dump}' -Wow64"));
    }

    [Fact]
    public void Wow64_on_other_dumps_is_an_error_and_a_thread_without_a_save_area_a_warning()
    {
        string plain = Write(Wow64Synth.Builder(wow64Module: false), "plain-x64.dmp");
        var r = _ps.Invoke("Get-DumpStack -Path $args[0] -Wow64", plain);
        Assert.Equal("NotWow64", Id(Assert.Single(r.Errors)));
        Assert.Empty(r.BaseObjects.OfType<StackFrame>());
        r = _ps.Invoke("Get-DumpThread -Path $args[0] -Wow64", plain);
        Assert.Equal("NotWow64", Id(Assert.Single(r.Errors)));
        r = _ps.Invoke("Get-DumpStack -Path $args[0] -Wow64", TestData.Shared("lldb/fizzbuzz_no_heap.dmp"));
        Assert.Equal("NotWow64", Id(Assert.Single(r.Errors)));

        string noArea = Write(Wow64Synth.Builder(Wow64Synth.Layout.NoCpuArea), "no-area.dmp");
        r = _ps.Invoke("Get-DumpStack -Path $args[0] -Wow64", noArea);
        Assert.Empty(r.Errors);
        Assert.Empty(r.BaseObjects.OfType<StackFrame>());
        Assert.Contains(r.Warnings, w => w.Contains("no 32-bit context"));
        r = _ps.Invoke("Get-DumpThread -Path $args[0] -Wow64", noArea);
        Assert.Empty(r.BaseObjects);
        Assert.Contains(r.Warnings, w => w.Contains("no 32-bit context"));
    }
}
