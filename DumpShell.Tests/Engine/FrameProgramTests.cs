using DumpShell.Machine.Unwind;

namespace DumpShell.Tests.Engine;

/// <summary>
/// The postfix evaluator of x86 frame programs (PDB FRAMEDATA FrameFunc strings, Breakpad STACK WIN program strings):
/// the operators, the MSVC programs against a small memory, and hostile programs, which must fail with a reason and
/// never throw or run away.
/// </summary>
public class FrameProgramTests
{
    /// <summary>A few 32-bit words of "process memory" by address; everything else is outside the dump.</summary>
    private static Func<ulong, uint?> Memory(params (ulong Address, uint Value)[] words)
    {
        var map = words.ToDictionary(w => w.Address, w => w.Value);
        return a => map.TryGetValue(a, out uint v) ? v : null;
    }

    private static readonly Func<ulong, uint?> NoMemory = _ => null;

    private static Dictionary<string, uint> Vars(params (string Name, uint Value)[] vars) => vars.ToDictionary(v => v.Name, v => v.Value);

    private static uint Run(string program, string result = "$r", Dictionary<string, uint>? vars = null, Func<ulong, uint?>? read = null)
    {
        var r = FrameProgram.Evaluate(program, vars ?? [], read ?? NoMemory);
        Assert.True(r.Success, r.Error);
        return r.AssignedValue(result) ?? throw new InvalidOperationException($"{result} not assigned");
    }

    private static string Fails(string? program, Dictionary<string, uint>? vars = null, Func<ulong, uint?>? read = null)
    {
        var r = FrameProgram.Evaluate(program, vars ?? [], read ?? NoMemory);
        Assert.False(r.Success);
        Assert.False(string.IsNullOrWhiteSpace(r.Error));
        Assert.Empty(r.Assigned);
        return r.Error!;
    }

    [Theory]
    [InlineData("$r 2 3 + =", 5u)]
    [InlineData("$r 2 3 - =", 0xFFFF_FFFFu)]          // 32-bit wrap
    [InlineData("$r 6 7 * =", 42u)]
    [InlineData("$r 0x10000 0x10000 * =", 0u)]        // wraps
    [InlineData("$r 17 5 / =", 3u)]
    [InlineData("$r 17 5 % =", 2u)]
    [InlineData("$r 0x1237 16 @ =", 0x1230u)]        // align down
    [InlineData("$r 0x1237 1 @ =", 0x1237u)]
    [InlineData("$r 4294967295 1 + =", 0u)]
    [InlineData("$r -4 =", 0xFFFF_FFFCu)]
    [InlineData("$r 10 2 3 * - =", 4u)]               // 10 - (2 * 3)
    public void Operators(string program, uint expected) => Assert.Equal(expected, Run(program));

    [Fact]
    public void Variables_are_read_and_assigned_in_order()
    {
        var vars = Vars(("$esp", 0x1000), (".cbLocals", 8));
        var r = FrameProgram.Evaluate("$T0 $esp .cbLocals + = $T1 $T0 4 + = $T0 $T1 =", vars, NoMemory);
        Assert.True(r.Success, r.Error);
        Assert.Equal(0x100Cu, r.AssignedValue("$T0"));
        Assert.Equal(0x100Cu, r.AssignedValue("$T1"));
        Assert.Null(r.AssignedValue("$esp"));            // read, not assigned
        Assert.Equal(0x1000u, r.Variables["$esp"]);
        Assert.Equal(["$T0", "$T1"], r.Assigned.Order().ToArray());
    }

    [Fact]
    public void The_MSVC_ebp_frame_program_finds_the_caller()
    {
        // [ebp] = caller's ebp, [ebp+4] = return address.
        var read = Memory((0x2000, 0x2100), (0x2004, 0x0040_1234));
        var r = FrameProgram.Evaluate("$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =", Vars(("$ebp", 0x2000), ("$esp", 0x1F00)), read);
        Assert.True(r.Success, r.Error);
        Assert.Equal(0x0040_1234u, r.AssignedValue("$eip"));
        Assert.Equal(0x2100u, r.AssignedValue("$ebp"));
        Assert.Equal(0x2008u, r.AssignedValue("$esp"));
    }

    [Fact]
    public void The_MSVC_fpo_program_with_raSearch_and_a_saved_register()
    {
        var read = Memory((0x1010, 0xB0B0_B0B0), (0x1014, 0x0040_5678));
        var vars = Vars(("$esp", 0x1000), ("$ebx", 7), (".raSearch", 0x1014), (".cbSavedRegs", 4));
        var r = FrameProgram.Evaluate("$T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + = $ebx $T0 .cbSavedRegs - ^ =", vars, read);
        Assert.True(r.Success, r.Error);
        Assert.Equal(0x0040_5678u, r.AssignedValue("$eip"));
        Assert.Equal(0x1018u, r.AssignedValue("$esp"));
        Assert.Equal(0xB0B0_B0B0u, r.AssignedValue("$ebx"));
    }

    [Fact]
    public void An_aligning_program_and_numbered_register_variables()
    {
        // A function that aligned ESP: $T1 = .raSearch, $T0 = ($T1 - 4) aligned to 8; $20-style names as MSVC writes them.
        var read = Memory((0x1FF8, 0x1234), (0x2004, 0x0040_0100), (0x2000, 0x3000));
        var vars = Vars((".raSearch", 0x2004), ("$ebp", 0x2000));
        var r = FrameProgram.Evaluate("$T1 .raSearch = $T0 $T1 4 - 8 @ = $ebp $T1 4 - ^ = $eip $T1 ^ = $esp $T1 4 + = $20 $T0 8 - ^ =", vars, read);
        Assert.True(r.Success, r.Error);
        Assert.Equal(0x2000u, r.AssignedValue("$T0"));
        Assert.Equal(0x3000u, r.AssignedValue("$ebp"));
        Assert.Equal(0x0040_0100u, r.AssignedValue("$eip"));
        Assert.Equal(0x2008u, r.AssignedValue("$esp"));
        Assert.Equal(0x1234u, r.AssignedValue("$20"));
    }

    [Fact]
    public void White_space_of_any_kind_separates_tokens()
    {
        Assert.Equal(9u, Run("  $r\t4\n5   +\r\n=  "));
    }

    [Fact]
    public void An_empty_program_assigns_nothing()
    {
        var r = FrameProgram.Evaluate("   ", new Dictionary<string, uint>(), NoMemory);
        Assert.True(r.Success);
        Assert.Empty(r.Assigned);
    }

    // ------------------------------------------------------------------ hostile programs

    [Theory]
    [InlineData("$r 1 0 / =", "Division by zero")]
    [InlineData("$r 1 0 % =", "Remainder by zero")]
    [InlineData("$r 10 0 @ =", "power of two")]
    [InlineData("$r 10 12 @ =", "power of two")]
    [InlineData("1 +", "stack is empty")]
    [InlineData("+", "stack is empty")]
    [InlineData("^", "stack is empty")]
    [InlineData("=", "stack is empty")]
    [InlineData("5 =", "nothing to assign")]
    [InlineData("4 5 =", "not a variable")]
    [InlineData(".raSearch 5 =", "only $ variables")]
    [InlineData("$r $undefined =", "'$undefined' has no value")]
    [InlineData("$r 1 2", "incomplete")]
    [InlineData("$r", "incomplete")]
    [InlineData("$r 1 2 & =", "Unknown token '&'")]
    [InlineData("$r 1 2 ++ =", "Unknown token '++'")]
    [InlineData("$r 99999999999 =", "Unknown token")]
    [InlineData("$r 0xZZ =", "Unknown token")]
    [InlineData("$ 1 =", "Unknown token '$'")]
    [InlineData("$a-b 1 =", "Unknown token")]
    [InlineData("$r 1 2 +=", "Unknown token '+='")]
    [InlineData("$r ebp =", "Unknown token 'ebp'")]
    public void Bad_programs_fail_with_a_reason(string program, string reason) =>
        Assert.Contains(reason, Fails(program));

    [Fact]
    public void Reads_outside_the_dump_fail()
    {
        Assert.Contains("0x1234 is not in the dump", Fails("$r 0x1234 ^ =", read: Memory((0x1000, 1))));
        // The evaluator hands 32-bit addresses only; a reader that throws is a failure, not an exception.
        Assert.Contains("Reading 0x10 failed", Fails("$r 16 ^ =", read: _ => throw new IOException("disk gone")));
    }

    [Fact]
    public void Deep_stacks_are_refused()
    {
        string deep = "$r " + string.Join(' ', Enumerable.Repeat("1", FrameProgram.MaxStackDepth + 1)) +
                      string.Concat(Enumerable.Repeat(" +", FrameProgram.MaxStackDepth)) + " =";
        Assert.Contains("stack would grow", Fails(deep));
        // Just under the limit works.
        string ok = "$r " + string.Join(' ', Enumerable.Repeat("1", FrameProgram.MaxStackDepth - 1)) +
                    string.Concat(Enumerable.Repeat(" +", FrameProgram.MaxStackDepth - 2)) + " =";
        Assert.Equal((uint)FrameProgram.MaxStackDepth - 1, Run(ok));
    }

    [Fact]
    public void Long_programs_many_tokens_many_variables_and_many_reads_are_refused()
    {
        Assert.Contains("longer than", Fails(new string(' ', FrameProgram.MaxProgramLength) + "$r 1 ="));
        string manyTokens = string.Concat(Enumerable.Repeat("$r 1 = ", FrameProgram.MaxTokens / 3 + 1));
        Assert.Contains("tokens", Fails(manyTokens));
        string manyVariables = string.Concat(Enumerable.Range(0, FrameProgram.MaxVariables + 1).Select(i => $"$v{i} 1 = "));
        Assert.Contains("variables", Fails(manyVariables));
        // A read chain that loops through memory: [0x100] = 0x100.
        string manyReads = "$r 256 " + string.Concat(Enumerable.Repeat("^ ", FrameProgram.MaxMemoryReads + 1)) + "=";
        Assert.Contains("memory reads", Fails(manyReads, read: Memory((0x100, 0x100))));
        Assert.Contains("There is no program", Fails(null));
    }

    [Fact]
    public void Random_garbage_never_throws()
    {
        var random = new Random(1234);
        string[] alphabet = ["$eip", "$esp", "$T0", ".raSearch", "+", "-", "*", "/", "%", "@", "^", "=", "0", "4", "-8", "0xFFFFFFFF", "x", "$", "."];
        var read = Memory((0, 0), (4, 8), (8, 4));
        for (int i = 0; i < 5000; i++)
        {
            int n = random.Next(0, 30);
            string program = string.Join(' ', Enumerable.Range(0, n).Select(_ => alphabet[random.Next(alphabet.Length)]));
            var r = FrameProgram.Evaluate(program, Vars(("$esp", 4), (".raSearch", 8)), read);
            Assert.True(r.Success || r.Error is not null);
        }
    }
}
