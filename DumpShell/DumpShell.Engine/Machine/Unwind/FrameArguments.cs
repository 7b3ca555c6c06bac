using DumpShell.Model;

namespace DumpShell.Machine.Unwind;

/// <summary>
/// kv's "Args to Child": the first four argument slots of each frame, with where they come from
/// (<see cref="StackFrame.Arguments"/>, <see cref="StackFrame.ArgumentsSource"/>).
/// </summary>
/// <remarks>
/// <para>x64: the first four arguments travel in rcx, rdx, r8 and r9. The caller reserves a 32-byte home area right
/// above the return address (the return-address slot + 8, which is the caller's Child-SP), but the callee need not
/// store its register arguments there: optimised code never does, and even unoptimised code may keep them in its own
/// locals (clang -O0 does). So these values are reported as "HomeArea (unverified)": only the disassembly can confirm
/// them (False Function Parameters). A frame without a native caller (the last one) has no home area we can find.</para>
/// <para>x86: stack arguments lie right above the return address. For a frame with a frame pointer (the saved EBP at
/// [EBP] and this frame's return address at [EBP+4]) they are [EBP+8], [EBP+0xC], ...; for other frames the slots
/// above the return address the unwind found (the caller's Child-SP). Source "Stack". Functions that take fewer
/// arguments, or register arguments (fastcall, thiscall), show whatever lies there.</para>
/// </remarks>
public static class FrameArguments
{
    public const int Count = 4;
    public const string HomeArea = "HomeArea (unverified)";
    public const string Stack = "Stack";

    /// <summary>Sets <see cref="StackFrame.Arguments"/> and <see cref="StackFrame.ArgumentsSource"/> of the native frames of one walk.</summary>
    /// <param name="frames">The frames of one thread, in walk order (frame 0 first); managed and runtime frames are skipped.</param>
    public static void Fill(Dump dump, IReadOnlyList<StackFrame> frames)
    {
        for (int i = 0; i < frames.Count; i++)
        {
            var frame = frames[i];
            if (frame.Kind != StackFrameKind.Native) continue;
            var caller = i + 1 < frames.Count && frames[i + 1].Kind == StackFrameKind.Native && frames[i + 1].ChildSP > frame.ChildSP
                ? frames[i + 1]
                : null;
            int p = frame.PointerSize;
            ulong? first;
            string source;
            if (p == 8)
            {
                first = caller?.ChildSP;
                source = HomeArea;
            }
            else if (p == 4)
            {
                first = HasFramePointer(dump, frame) ? frame.FramePointer!.Value + 8 : caller?.ChildSP;
                source = Stack;
            }
            else continue;
            if (first is not { } address) continue;
            var values = new ulong?[Count];
            for (int k = 0; k < Count; k++)
                values[k] = dump.Memory.TryReadPointer(address + (ulong)(k * p), p, out ulong v) ? v : null;
            frame.Arguments = values;
            frame.ArgumentsSource = source;
        }
    }

    /// <summary>x86: EBP points at a frame of this function: above the stack pointer, with this frame's return address at [EBP+4].</summary>
    private static bool HasFramePointer(Dump dump, StackFrame frame) =>
        frame.FramePointer is { } ebp && frame.ReturnAddress is { } ret && ebp >= frame.ChildSP && ebp % 4 == 0 &&
        dump.Memory.TryReadPointer(ebp + 4, 4, out ulong slot) && slot == ret;
}
